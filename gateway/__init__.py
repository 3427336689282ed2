"""Peppol access-point gateway of the cooperative."""

__version__ = "0.1.0"
