"""ltv: long-term validation of signed PDFs with stapled evidence."""

__version__ = "0.1.0"

__all__ = ["__version__"]
