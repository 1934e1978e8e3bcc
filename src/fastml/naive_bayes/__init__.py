"""Naive Bayes classifiers on fastml's C++ core, drop-in for ``sklearn.naive_bayes``:
GaussianNB, MultinomialNB, ComplementNB, BernoulliNB and CategoricalNB."""
from ._naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB

__all__ = ["BernoulliNB", "CategoricalNB", "ComplementNB", "GaussianNB", "MultinomialNB"]
