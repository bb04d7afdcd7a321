"""The package version, in one place (pyproject reads it too)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
