"""meterhouse: token-usage billing warehouse."""

__version__ = "0.1.0"
