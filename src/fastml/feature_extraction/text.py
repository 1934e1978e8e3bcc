"""Text vectorizers on fastml's C++ core: CountVectorizer, TfidfVectorizer, HashingVectorizer.

They are scikit-learn's classes (same parameters, attributes, checks, warnings and errors; an
``isinstance`` test against scikit-learn's class holds) whose counting runs in compiled code: the
core tokenizes, builds the n-grams, counts them per document, learns and sorts the vocabulary and
builds the sparse matrix, in parallel over documents, without making a Python string of any token.
What it computes is what scikit-learn's Python analyzer computes:

- Lowercasing and accent stripping are done by Python's own ``str.lower`` and scikit-learn's accent
  functions, document by document (skipped for ASCII documents, which they leave unchanged);
- the token pattern's ``\\w``, ``\\s`` and ``\\b`` follow the Unicode database of the Python
  fastml was built for, as Python's ``re`` does;
- the vocabulary is sorted as Python sorts strings, and ``max_features`` ties are broken by the
  same NumPy call on the same array as scikit-learn's.

A callable ``analyzer``, ``preprocessor`` or ``tokenizer``, or a ``token_pattern`` other than
``r"(?u)\\b\\w\\w+\\b"`` or ``r"(?u)\\b\\w+\\b"``, runs scikit-learn's Python code (the same
results, at scikit-learn's speed). The compiled paths use ``fastml.config_context(n_jobs=...)``'s
thread count (all cores by default); results do not depend on it.
"""
import itertools
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import text as _sklearn_text
from sklearn.preprocessing import normalize

from .._backend import effective_n_threads
from ..utils._sklearn_compat import align_api_if_sparse, fit_context
from . import _text_fast

__all__ = ["CountVectorizer", "HashingVectorizer", "TfidfTransformer", "TfidfVectorizer",
           "ENGLISH_STOP_WORDS", "strip_accents_ascii", "strip_accents_unicode", "strip_tags"]

ENGLISH_STOP_WORDS = _sklearn_text.ENGLISH_STOP_WORDS
strip_accents_ascii = _sklearn_text.strip_accents_ascii
strip_accents_unicode = _sklearn_text.strip_accents_unicode
strip_tags = _sklearn_text.strip_tags
TfidfTransformer = _sklearn_text.TfidfTransformer

# Token patterns the core matches, with the fewest word characters a token has: \b\w{m,}\b.
_CORE_TOKEN_PATTERNS = {r"(?u)\b\w\w+\b": 2, r"\b\w\w+\b": 2, r"(?u)\b\w+\b": 1, r"\b\w+\b": 1}
_ANALYZER_KINDS = {"word": 0, "char": 1, "char_wb": 2}
# Documents handed to the core per call: the prepared text of one batch is held at a time.
_BATCH = 8192
_NOT_ITERABLE_OF_DOCUMENTS = "Iterable over raw text documents expected, string object received."


def _core_analyzer(vectorizer):
    """The core's analyzer arguments (kind, min_n, max_n, min_token_chars, stop_words) for this
    vectorizer, or None where only Python computes its analyzer (callables, other patterns).

    Builds scikit-learn's analyzer first, for its checks and warnings (unknown analyzer or
    strip_accents, stop words inconsistent with the preprocessing)."""
    vectorizer.build_analyzer()
    analyzer = vectorizer.analyzer
    if callable(analyzer) or vectorizer.preprocessor is not None:
        return None
    min_n, max_n = vectorizer.ngram_range
    if analyzer != "word":
        return (_ANALYZER_KINDS[analyzer], min_n, max_n, 1, [])
    min_token_chars = _CORE_TOKEN_PATTERNS.get(vectorizer.token_pattern)
    if vectorizer.tokenizer is not None or min_token_chars is None:
        return None
    # Only strings can equal a token; other stop "words" never match one.
    stop_words = [word.encode("utf-8", "surrogatepass")
                  for word in vectorizer.get_stop_words() or () if isinstance(word, str)]
    return (0, min_n, max_n, min_token_chars, stop_words)


def _document_preparer(vectorizer):
    """A function from a raw document to what the core reads (ASCII str or UTF-8 bytes): decoded,
    lowercased and stripped of accents as scikit-learn's preprocessor does. Lone surrogates, which
    Python strings may hold, are kept ("surrogatepass")."""
    decode, lowercase, content = vectorizer.decode, vectorizer.lowercase, vectorizer.input == "content"
    strip = vectorizer.strip_accents
    accents = {"ascii": strip_accents_ascii, "unicode": strip_accents_unicode}.get(strip, strip)
    # scikit-learn's accent functions leave ASCII text as it is; a callable of the user's may not.
    accents_on_ascii = callable(strip) and strip not in (strip_accents_ascii, strip_accents_unicode)

    def prepare(doc):
        if not (content and type(doc) is str):
            doc = decode(doc)
            if not isinstance(doc, str):
                vectorizer.build_analyzer()(doc)  # raises scikit-learn's error for this document
                raise TypeError(f"documents must be str or bytes, got {type(doc).__name__}")
        if lowercase:
            doc = doc.lower()
        if accents and (accents_on_ascii or not doc.isascii()):
            doc = accents(doc)
        if type(doc) is str and doc.isascii():
            return doc
        return str(doc).encode("utf-8", "surrogatepass")

    return prepare


def _prepared_batches(vectorizer, raw_documents):
    prepare = _document_preparer(vectorizer)
    documents = iter(raw_documents)
    while batch := [prepare(doc) for doc in itertools.islice(documents, _BATCH)]:
        yield batch


def _sum_dtype(dtype):
    """The dtype of a column sum of a sparse matrix of `dtype` (scikit-learn ranks max_features
    by such sums: the same dtype gives NumPy's sort the same array)."""
    return np.asarray(sp.csr_array(np.ones((1, 1)), dtype=dtype).sum(axis=0)).dtype


def _csr(data, indices, indptr, shape):
    # No has_sorted_indices flag is set: a fitted matrix keeps scikit-learn's first-seen order in
    # its rows, and scipy finds the order of the others when it needs it.
    return align_api_if_sparse(sp.csr_array((data, indices, indptr), shape=shape))


class CountVectorizer(_sklearn_text.CountVectorizer):
    """Convert a collection of text documents to a matrix of token counts.

    scikit-learn's ``CountVectorizer`` (the same parameters, attributes and results: see its
    documentation) with the tokenizing, n-grams, counting and vocabulary in compiled code; see
    :mod:`fastml.feature_extraction.text` for which options run there.

    Examples
    --------
    >>> from fastml.feature_extraction.text import CountVectorizer
    >>> vectorizer = CountVectorizer(ngram_range=(1, 2))
    >>> X = vectorizer.fit_transform(["the cat sat", "the cat ran"])
    >>> vectorizer.get_feature_names_out().tolist()
    ['cat', 'cat ran', 'cat sat', 'ran', 'sat', 'the', 'the cat']
    >>> X.toarray().tolist()
    [[1, 0, 1, 0, 1, 1, 1], [1, 1, 0, 1, 0, 1, 1]]
    """

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, raw_documents, y=None):
        """Learn the vocabulary dictionary and return the document-term matrix.

        Parameters
        ----------
        raw_documents : iterable
            An iterable which generates either str, bytes or file objects, as ``input`` says.
        y : None
            Ignored.

        Returns
        -------
        X : sparse matrix of shape (n_samples, n_features)
            Document-term matrix.
        """
        spec = _core_analyzer(self)
        if spec is None:
            return super().fit_transform(raw_documents, y)
        if isinstance(raw_documents, str):
            raise ValueError(_NOT_ITERABLE_OF_DOCUMENTS)
        self._validate_ngram_range()
        self._warn_for_unused_params()
        self._validate_vocabulary()
        if self.fixed_vocabulary_:
            if self.lowercase and any(any(map(str.isupper, term)) for term in self.vocabulary):
                warnings.warn("Upper case characters found in vocabulary while 'lowercase' is "
                              "True. These entries will not be matched with any documents")
            return self._count_with_vocabulary(raw_documents, spec)
        counter = _text_fast.TermCounter(*spec, n_threads=effective_n_threads(None))
        for batch in _prepared_batches(self, raw_documents):
            counter.add(batch)
        if counter.n_terms() == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        n_doc = counter.n_documents
        max_df, min_df = self.max_df, self.min_df
        max_doc_count = max_df if isinstance(max_df, numbers.Integral) else max_df * n_doc
        min_doc_count = min_df if isinstance(min_df, numbers.Integral) else min_df * n_doc
        if max_doc_count < min_doc_count:
            raise ValueError("max_df corresponds to < documents than min_df")
        df, tf = counter.keep(min_doc_count, max_doc_count)
        if self.max_features is not None and len(df) > self.max_features:
            # scikit-learn's choice of the most frequent terms, on the array it sorts
            totals = (df if self.binary else tf).astype(_sum_dtype(self.dtype))
            counter.select(np.sort((-totals).argsort()[:self.max_features]).astype(np.int64))
        elif len(df) == 0:
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        # scikit-learn numbers the columns last by pruning (NumPy ints) where max_features is set,
        # else by sorting (Python ints)
        self.vocabulary_ = counter.vocabulary(numpy_ints=self.max_features is not None)
        return self._matrix(counter, len(self.vocabulary_))

    def transform(self, raw_documents):
        """Transform documents to a document-term matrix with the fitted or given vocabulary.

        Parameters
        ----------
        raw_documents : iterable
            An iterable which generates either str, bytes or file objects, as ``input`` says.

        Returns
        -------
        X : sparse matrix of shape (n_samples, n_features)
            Document-term matrix.
        """
        spec = _core_analyzer(self)
        if spec is None:
            return super().transform(raw_documents)
        if isinstance(raw_documents, str):
            raise ValueError(_NOT_ITERABLE_OF_DOCUMENTS)
        self._check_vocabulary()
        return self._count_with_vocabulary(raw_documents, spec)

    def _count_with_vocabulary(self, raw_documents, spec):
        # Only string terms can equal an analysed term.
        vocabulary = [(term.encode("utf-8", "surrogatepass"), column)
                      for term, column in self.vocabulary_.items() if isinstance(term, str)]
        terms = [term for term, _ in vocabulary]
        columns = np.fromiter((column for _, column in vocabulary), dtype=np.int64,
                              count=len(vocabulary))
        counter = _text_fast.TermCounter(*spec, n_threads=effective_n_threads(None), terms=terms,
                                         columns=columns)
        for batch in _prepared_batches(self, raw_documents):
            counter.add(batch)
        return self._matrix(counter, len(self.vocabulary_))

    def _matrix(self, counter, n_columns):
        indptr, indices, counts = counter.matrix(self.binary)
        return _csr(counts.astype(self.dtype, copy=False), indices, indptr,
                    (counter.n_documents, n_columns))


class TfidfVectorizer(_sklearn_text.TfidfVectorizer, CountVectorizer):
    """Convert a collection of raw documents to a matrix of TF-IDF features.

    scikit-learn's ``TfidfVectorizer`` (the same parameters, attributes and results: see its
    documentation) whose counting is fastml's :class:`CountVectorizer`; the TF-IDF weighting is
    scikit-learn's ``TfidfTransformer`` on the counts.

    Examples
    --------
    >>> from fastml.feature_extraction.text import TfidfVectorizer
    >>> X = TfidfVectorizer().fit_transform(["the cat sat", "the cat ran"])
    >>> X.shape
    (2, 4)
    """
    # scikit-learn's TfidfVectorizer calls super().fit_transform for the counts: with this base
    # order that is fastml's CountVectorizer.fit_transform.


class HashingVectorizer(_sklearn_text.HashingVectorizer):
    """Convert a collection of text documents to a matrix of hashed token occurrences.

    scikit-learn's ``HashingVectorizer`` (the same parameters and results: the same MurmurHash3
    of each term's UTF-8 bytes, columns and signs) with the analysing and hashing in compiled code;
    see :mod:`fastml.feature_extraction.text` for which options run there.

    Examples
    --------
    >>> from fastml.feature_extraction.text import HashingVectorizer
    >>> HashingVectorizer(n_features=2**4).transform(["the cat sat"]).shape
    (1, 16)
    """

    def transform(self, X):
        """Transform a sequence of documents to a document-term matrix.

        Parameters
        ----------
        X : iterable over raw text documents, length = n_samples

        Returns
        -------
        X : sparse matrix of shape (n_samples, n_features)
            Document-term matrix.
        """
        spec = None if isinstance(X, str) else _core_analyzer(self)
        if spec is None:
            return super().transform(X)
        self._validate_ngram_range()
        n_threads = effective_n_threads(None)
        sizes, indices, values = [], [], []
        for batch in _prepared_batches(self, X):
            batch_sizes, batch_indices, batch_values, surrogate_term = _text_fast.hash_documents(
                batch, *spec, n_features=self.n_features, alternate_sign=self.alternate_sign,
                n_threads=n_threads)
            if surrogate_term:  # scikit-learn encodes each term as strict UTF-8
                raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
            sizes.append(batch_sizes)
            indices.append(batch_indices)
            values.append(batch_values)
        if not sizes:
            raise ValueError("Cannot vectorize empty sequence.")
        sizes = np.concatenate(sizes)
        nnz = int(sizes.sum())
        # int32 index arrays where the entries allow it, as scikit-learn's FeatureHasher
        index_dtype = np.int32 if nnz <= np.iinfo(np.int32).max else np.int64
        indptr = np.zeros(len(sizes) + 1, dtype=index_dtype)
        np.cumsum(sizes, out=indptr[1:])
        X = _csr(np.concatenate(values).astype(self.dtype, copy=False),
                 np.concatenate(indices).astype(index_dtype, copy=False), indptr,
                 (len(sizes), self.n_features))
        if self.binary:
            X.data.fill(1)
        if self.norm is not None:
            X = normalize(X, norm=self.norm, copy=False)
        return align_api_if_sparse(X)
