"""Utilities shared by fastml's estimators."""
from ._discovery import all_estimators

__all__ = ["all_estimators"]
