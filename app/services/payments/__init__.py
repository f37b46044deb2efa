"""Payments: create, read, change and pay a bill (attempts, transitions, idempotency, expiry)."""
