"""The Kneser-Ney n-gram baseline, as the evaluation knows it.

The model itself is an engine (`autocomplete.ngram`: the blend serves it);
this name keeps the evaluation's imports where they were.
"""

from autocomplete.ngram import KneserNeyLM, NgramStepModel

__all__ = ["KneserNeyLM", "NgramStepModel"]
