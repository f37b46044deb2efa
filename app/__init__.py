"""paybridge: payment integration for Vietnam's public sector."""

__version__ = "0.1.0"
