"""Agencies, revenue types, banks, beneficiary and gateway accounts, imports, demo seed."""
