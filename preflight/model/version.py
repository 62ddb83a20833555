"""The version of preflight, in one place (the package, SARIF reports and the wheel read it)."""

__version__ = "0.1.0"
