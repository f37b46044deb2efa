"""What several gateway packages share: the spec type, the simulators' host context and pages,
the reconciliation column mapping type, wire-text rules and the families' signing code."""
