"""Reports (KPI) and the operator dashboard."""
