"""Events, the event feed and signed webhooks to portals."""
