"""The payment domain, free of I/O: statuses (:mod:`states`) and every state change, declared
once (:mod:`transitions`). Models, stores and services import from here; this package imports
nothing of the application."""
