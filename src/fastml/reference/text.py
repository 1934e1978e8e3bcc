"""Plain Python reference of the text vectorizers' core (fastml.feature_extraction._text_fast):
analysers, counting with a learned or given vocabulary, and hashing.

Documents here are str, already lowercased and stripped of accents (the core receives them so).
"""
import re
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32


def analyze(doc, kind="word", ngram_range=(1, 1), min_token_chars=2, stop_words=()):
    """The terms of one document, in the order scikit-learn's analyzer yields them."""
    min_n, max_n = ngram_range
    if kind == "word":
        tokens = [t for t in re.findall(r"\b\w{%d,}\b" % min_token_chars, doc)
                  if t not in set(stop_words)]
        return [" ".join(tokens[i:i + n]) for n in range(min_n, max_n + 1)
                for i in range(len(tokens) - n + 1)]
    text = re.sub(r"\s\s+", " ", doc)
    if kind == "char":
        return [text[i:i + n] for n in range(min_n, max_n + 1) for i in range(len(text) - n + 1)]
    if kind != "char_wb":
        raise ValueError(f"unknown analyzer kind {kind!r}")
    terms = []
    for word in text.split():
        padded = f" {word} "
        for n in range(min_n, max_n + 1):
            if len(padded) <= n:  # a short word counts once, for the smallest n only
                terms.append(padded)
                break
            terms.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return terms


def count(docs, analyzer, vocabulary=None, min_df=1, max_df=None, max_features=None):
    """(vocabulary {term: column}, CSR int64 counts with sorted columns) of the documents.

    Learned (vocabulary None): the terms in between min_df and max_df documents (counts), the
    max_features most frequent of them (ties: the earlier term), columns in sorted term order."""
    rows = [Counter(analyzer(doc)) for doc in docs]
    if vocabulary is None:
        df = Counter(term for row in rows for term in row)
        tf = Counter()
        for row in rows:
            tf.update(row)
        high = len(docs) if max_df is None else max_df
        terms = sorted(t for t in df if min_df <= df[t] <= high)
        if max_features is not None and len(terms) > max_features:
            keep = sorted(range(len(terms)), key=lambda i: (-tf[terms[i]], i))[:max_features]
            terms = [terms[i] for i in sorted(keep)]
        vocabulary = {term: column for column, term in enumerate(terms)}
    n_columns = max(vocabulary.values(), default=-1) + 1
    return vocabulary, _csr([{vocabulary[t]: n for t, n in row.items() if t in vocabulary}
                             for row in rows], n_columns, np.int64)


def _csr(rows, n_columns, dtype):
    """CSR matrix of rows given as {column: value}, columns sorted."""
    indptr = np.cumsum([0] + [len(row) for row in rows])
    indices = [c for row in rows for c in sorted(row)]
    data = [row[c] for row in rows for c in sorted(row)]
    return sp.csr_array((np.array(data, dtype=dtype), np.array(indices, dtype=np.int32),
                         indptr.astype(np.int32)), shape=(len(rows), n_columns))


def hash_documents(docs, analyzer, n_features, alternate_sign=True):
    """CSR float64 matrix of the documents' hashed terms: column |h| mod n_features, sign of h
    (h the signed MurmurHash3 of the term's UTF-8 bytes), duplicates summed."""
    rows = []
    for doc in docs:
        row = {}
        for term in analyzer(doc):
            h = murmurhash3_32(term.encode("utf-8", "surrogatepass"), seed=0)
            column = (2**31 - n_features) % n_features if h == -2**31 else abs(h) % n_features
            row[column] = row.get(column, 0.0) + (-1.0 if alternate_sign and h < 0 else 1.0)
        rows.append(row)
    return _csr(rows, n_features, np.float64)
