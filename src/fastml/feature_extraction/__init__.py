"""Feature extraction from text on fastml's C++ core (see fastml.feature_extraction.text)."""
from . import text

__all__ = ["text"]
