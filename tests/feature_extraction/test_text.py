"""fastml.feature_extraction.text against its reference (fastml.reference.text) and against
scikit-learn itself: the same vocabularies and the same matrices, array for array."""
import importlib
import inspect
import io
import pickle
import re
import unicodedata
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context as sklearn_config_context
from sklearn.feature_extraction import text as sk
from sklearn.utils import murmurhash3_32

import fastml
from fastml.feature_extraction import _text_fast
from fastml.feature_extraction import text as fm
from fastml.reference import text as reference
from fastml.utils._sklearn_compat import VECTORIZER_PRIVATE_METHODS

KINDS = {"word": 0, "char": 1, "char_wb": 2}

# Code points that exercise every class the tokenizer tells apart: ASCII, accented Latin, Greek
# (final sigma), Cyrillic, CJK, emoji, digits of other scripts, superscripts, combining marks,
# joiners, underscore, punctuation, the whitespace of str.isspace() beyond ASCII, and a lone
# surrogate (Python strings may hold one).
_ALPHABET = list("abcdefghij ABCDE 0123456789 ,.;!?-'\"_\t\n") + [
    "é", "Ü", "ß", "ñ", "İ", "ǅ", "Σ", "ς", "λ", "Ж", "д", "中", "文", "字", "😀", "👍", "٣", "²",
    "½", "\u0301", "\u200d", "\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "\u2028", "\ud800",
    "\U0001d400", "\u0660", "\u00aa", "·"]


def _random_documents(n, seed=0, length=(0, 40)):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(_ALPHABET, size=rng.integers(*length))) for _ in range(n)]


def _sklearn_docstrings():
    """Real English text shipped with scikit-learn: its public docstrings (their first 1500
    characters, enough text for the tests and short enough for scikit-learn's Python analyzer)."""
    docs = []
    for name in ("sklearn.cluster", "sklearn.feature_extraction.text", "sklearn.linear_model"):
        module = importlib.import_module(name)
        docs += [(inspect.getdoc(getattr(module, item)) or "")[:1500] for item in sorted(module.__all__)]
    return docs


DOCSTRINGS = _sklearn_docstrings()
UNICODE_DOCS = _random_documents(60) + ["", "   ", "Ὀδυσσεύς ΟΔΟΣ", "İstanbul straße ǅ",
                                        "naïve café résumé", "中文 字 😀😀 x_y"]


def _analyzer(kind, ngram_range, min_token_chars=2, stop_words=()):
    return lambda doc: reference.analyze(doc, kind, ngram_range, min_token_chars, stop_words)


def _core_analyze(doc, kind, ngram_range, min_token_chars=2, stop_words=()):
    return _text_fast.analyze(doc.encode("utf-8", "surrogatepass"), KINDS[kind], *ngram_range,
                              min_token_chars, [w.encode() for w in stop_words])


def _assert_same_csr(a, b):
    """The same sparse matrix stored the same way: class, dtypes, and arrays."""
    assert type(a) is type(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert a.indices.dtype == b.indices.dtype and a.indptr.dtype == b.indptr.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.has_sorted_indices == b.has_sorted_indices


# --- the core against the reference ---------------------------------------------------------

def test_word_characters_are_those_of_python_re():
    # every code point between two letters: one token if it is \w, else two
    doc = " ".join("a" + chr(c) + "a" for c in range(0x110000))
    expected = re.findall(r"\b\w+\b", doc)
    assert _core_analyze(doc, "word", (1, 1), min_token_chars=1) == expected
    assert _text_fast.unicode_version == unicodedata.unidata_version


def test_white_space_is_that_of_python_str():
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    others = [chr(c) for c in np.random.default_rng(0).integers(0, 0x110000, 3000)]
    doc = "".join("a" + c + "b" for c in spaces + others + spaces)
    for kind in ("char", "char_wb"):
        assert _core_analyze(doc, kind, (1, 2)) == reference.analyze(doc, kind, (1, 2))


@pytest.mark.parametrize("kind", ["word", "char", "char_wb"])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3), (1, 4)])
def test_core_analyzer_matches_reference(kind, ngram_range):
    stop_words = ("ab", "é", "中文") if kind == "word" else ()
    for min_token_chars in (1, 2):
        for doc in UNICODE_DOCS:
            doc = doc.lower()
            assert (_core_analyze(doc, kind, ngram_range, min_token_chars, stop_words)
                    == reference.analyze(doc, kind, ngram_range, min_token_chars, stop_words))


def _prepared(docs):
    return [d if d.isascii() else d.encode("utf-8", "surrogatepass") for d in docs]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("kind, ngram_range", [("word", (1, 2)), ("char_wb", (2, 3)),
                                               ("char", (1, 3))])
def test_core_counts_match_reference(kind, ngram_range, n_threads):
    docs = [d.lower() for d in UNICODE_DOCS + DOCSTRINGS[:40]]
    analyzer = _analyzer(kind, ngram_range)
    for low, high in [(1, len(docs)), (2, 30)]:
        counter = _text_fast.TermCounter(KINDS[kind], *ngram_range, 2, [], n_threads=n_threads)
        for start in range(0, len(docs), 25):  # in batches, as the vectorizers hand them over
            counter.add(_prepared(docs[start:start + 25]))
        df, tf = counter.keep(low, high)
        vocabulary, expected = reference.count(docs, analyzer, min_df=low, max_df=high)
        assert counter.vocabulary(numpy_ints=False) == vocabulary
        indptr, indices, counts = counter.matrix(binary=False)
        X = sp.csr_array((counts, indices, indptr), shape=expected.shape)
        X.sort_indices()
        _assert_same_csr(X, expected)
        np.testing.assert_array_equal(df, np.diff(expected.tocsc().indptr))
        np.testing.assert_array_equal(tf, expected.sum(axis=0))

        # the vocabulary given: the same counts, in the columns it says
        columns = np.random.default_rng(1).permutation(len(vocabulary)).astype(np.int64)
        given = dict(zip(vocabulary, columns.tolist()))
        fixed = _text_fast.TermCounter(KINDS[kind], *ngram_range, 2, [], n_threads=n_threads,
                                       terms=[t.encode("utf-8", "surrogatepass") for t in given],
                                       columns=columns)
        fixed.add(_prepared(docs))
        indptr, indices, counts = fixed.matrix(binary=False)
        _assert_same_csr(sp.csr_array((counts, indices, indptr), shape=expected.shape),
                         reference.count(docs, analyzer, vocabulary=given)[1])


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n_features, alternate_sign", [(2**20, True), (7, True), (16, False)])
def test_core_hashing_matches_reference(n_features, alternate_sign, n_threads):
    docs = [d.lower() for d in UNICODE_DOCS + DOCSTRINGS[:20]]
    sizes, indices, values, _ = _text_fast.hash_documents(
        _prepared(docs), 0, 1, 2, 2, [], n_features=n_features, alternate_sign=alternate_sign,
        n_threads=n_threads)
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    X = sp.csr_array((values, indices, indptr.astype(np.int32)), shape=(len(docs), n_features))
    expected = reference.hash_documents(docs, _analyzer("word", (1, 2)), n_features, alternate_sign)
    # explicit zeros (terms of opposite signs in one column) stay stored, as in scipy's sum
    _assert_same_csr(X, expected)


def test_murmurhash_matches_scikit_learn():
    rng = np.random.default_rng(0)
    for size in list(range(12)) + [31, 100]:
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        for seed in (0, 1, 2**32 - 1):
            assert _text_fast.murmurhash3_32(data, seed) == murmurhash3_32(data, seed=seed)


def test_core_rejects_bad_arguments():
    with pytest.raises(TypeError, match="ASCII str or UTF-8 bytes"):
        _text_fast.TermCounter(0, 1, 1, 2, [], n_threads=1).add(["é"])
    with pytest.raises(ValueError, match="ngram_range"):
        _text_fast.TermCounter(0, 2, 1, 2, [], n_threads=1)
    with pytest.raises(ValueError, match="n_threads"):
        _text_fast.TermCounter(0, 1, 1, 2, [], n_threads=0)
    with pytest.raises(ValueError, match="twice"):
        _text_fast.TermCounter(0, 1, 1, 2, [], n_threads=1, terms=[b"a", b"a"],
                               columns=np.arange(2))
    with pytest.raises(ValueError, match="n_features"):
        _text_fast.hash_documents(["ab"], 0, 1, 1, 2, [], n_features=0, alternate_sign=True,
                                  n_threads=1)


# --- the estimators against scikit-learn -------------------------------------------------------

COUNT_PARAMS = [
    {}, {"ngram_range": (1, 2)}, {"ngram_range": (2, 3), "binary": True},
    {"analyzer": "char", "ngram_range": (2, 4)}, {"analyzer": "char_wb", "ngram_range": (1, 3)},
    {"stop_words": "english", "ngram_range": (1, 2)}, {"stop_words": ["the", "of", "é"]},
    {"max_features": 50}, {"max_features": 40, "ngram_range": (1, 2), "binary": True},
    {"min_df": 2, "max_df": 0.5}, {"min_df": 0.01, "max_df": 20}, {"strip_accents": "unicode"},
    {"strip_accents": "ascii", "lowercase": False}, {"strip_accents": str.upper},
    {"token_pattern": r"(?u)\b\w+\b", "dtype": np.float32}, {"dtype": np.int32, "lowercase": False},
]


@pytest.mark.parametrize("params", COUNT_PARAMS, ids=str)
@pytest.mark.parametrize("corpus", ["docstrings", "unicode"])
def test_count_vectorizer_matches_scikit_learn(params, corpus):
    docs = DOCSTRINGS if corpus == "docstrings" else UNICODE_DOCS
    ours, theirs = fm.CountVectorizer(**params), sk.CountVectorizer(**params)
    X = ours.fit_transform(docs)
    _assert_same_csr(X, theirs.fit_transform(docs))
    assert ours.vocabulary_ == theirs.vocabulary_
    # where scikit-learn holds NumPy integers as columns, so do we
    assert {type(v) for v in ours.vocabulary_.values()} == {type(v) for v in theirs.vocabulary_.values()}
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    others = docs[::-3]
    _assert_same_csr(ours.transform(others), theirs.transform(others))
    _assert_same_csr(fm.CountVectorizer(**params).fit(docs).transform(docs), theirs.transform(docs))


@pytest.mark.parametrize("params", [
    {}, {"ngram_range": (1, 2), "min_df": 2}, {"sublinear_tf": True, "norm": "l1"},
    {"use_idf": False, "analyzer": "char_wb", "ngram_range": (2, 3)},
    {"smooth_idf": False, "max_features": 100, "dtype": np.float32}], ids=str)
def test_tfidf_vectorizer_matches_scikit_learn(params):
    ours, theirs = fm.TfidfVectorizer(**params), sk.TfidfVectorizer(**params)
    _assert_same_csr(ours.fit_transform(DOCSTRINGS), theirs.fit_transform(DOCSTRINGS))
    np.testing.assert_array_equal(ours.idf_, theirs.idf_) if params.get("use_idf", True) else None
    assert ours.vocabulary_ == theirs.vocabulary_
    _assert_same_csr(ours.transform(UNICODE_DOCS), theirs.transform(UNICODE_DOCS))
    _assert_same_csr(fm.TfidfVectorizer(**params).fit(DOCSTRINGS).transform(DOCSTRINGS),
                     theirs.transform(DOCSTRINGS))
    assert isinstance(ours, sk.TfidfVectorizer) and isinstance(ours, fm.CountVectorizer)


@pytest.mark.parametrize("params", [
    {}, {"n_features": 64, "ngram_range": (1, 2)}, {"alternate_sign": False, "norm": None},
    {"norm": "l1", "binary": True, "analyzer": "char", "ngram_range": (1, 3)},
    {"analyzer": "char_wb", "ngram_range": (2, 4), "dtype": np.float32},
    {"stop_words": "english", "strip_accents": "unicode", "n_features": 2**31 - 2}], ids=str)
@pytest.mark.parametrize("corpus", ["docstrings", "unicode"])
def test_hashing_vectorizer_matches_scikit_learn(params, corpus):
    # scikit-learn's hashing encodes terms as strict UTF-8: no lone surrogates (tested below)
    docs = DOCSTRINGS if corpus == "docstrings" else [d.replace("\ud800", "") for d in UNICODE_DOCS]
    ours, theirs = fm.HashingVectorizer(**params), sk.HashingVectorizer(**params)
    _assert_same_csr(ours.fit_transform(docs), theirs.fit_transform(docs))
    _assert_same_csr(ours.transform(iter(docs)), theirs.transform(docs))


def test_hashing_a_lone_surrogate_raises_as_scikit_learn():
    # scikit-learn encodes terms as strict UTF-8: a term with a lone surrogate cannot be hashed
    docs = ["ok", "lone \ud800 surrogate"]
    for vectorizer in (fm.HashingVectorizer(analyzer="char"), sk.HashingVectorizer(analyzer="char")):
        with pytest.raises(UnicodeEncodeError):
            vectorizer.transform(docs)
    _assert_same_csr(fm.HashingVectorizer().transform(docs), sk.HashingVectorizer().transform(docs))


def test_python_analyzers_give_scikit_learn_results():
    # options the core does not compute go through scikit-learn's Python code
    for params in [{"analyzer": str.split}, {"tokenizer": str.split, "token_pattern": None},
                   {"preprocessor": str.upper, "lowercase": False},
                   {"token_pattern": r"[a-z]{3}"}]:
        _assert_same_csr(fm.CountVectorizer(**params).fit_transform(DOCSTRINGS),
                         sk.CountVectorizer(**params).fit_transform(DOCSTRINGS))
        _assert_same_csr(fm.HashingVectorizer(**params).transform(DOCSTRINGS),
                         sk.HashingVectorizer(**params).transform(DOCSTRINGS))


def test_inputs_as_scikit_learn_reads_them(tmp_path):
    docs = ["Grüße aus Köln", "naïve café", "plain ascii words", "ǅemal Ὀδυσσεύς"]
    latin1 = [d.encode("utf-8") for d in docs[:3]] + [b"caf\xe9 cr\xe8me"]
    for params, raw in [({"encoding": "latin-1"}, latin1),
                        ({"decode_error": "replace"}, latin1),
                        ({"decode_error": "ignore", "analyzer": "char"}, latin1)]:
        _assert_same_csr(fm.CountVectorizer(**params).fit_transform(raw),
                         sk.CountVectorizer(**params).fit_transform(raw))
    with pytest.raises(UnicodeDecodeError):
        fm.CountVectorizer().fit_transform(latin1)
    paths = []
    for i, doc in enumerate(docs):
        paths.append(tmp_path / f"{i}.txt")
        paths[-1].write_text(doc, encoding="utf-8")
    _assert_same_csr(fm.CountVectorizer(input="filename").fit_transform(paths),
                     sk.CountVectorizer(input="filename").fit_transform(paths))
    _assert_same_csr(fm.CountVectorizer(input="file").fit_transform(io.StringIO(d) for d in docs),
                     sk.CountVectorizer(input="file").fit_transform(io.StringIO(d) for d in docs))
    # a generator is read once
    _assert_same_csr(fm.CountVectorizer().fit_transform(d for d in docs),
                     sk.CountVectorizer().fit_transform(docs))


def test_errors_and_warnings_as_scikit_learn():
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        fm.CountVectorizer().fit_transform("one string")
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        fm.HashingVectorizer().transform("one string")
    with pytest.raises(ValueError, match="np.nan is an invalid document"):
        fm.CountVectorizer().fit_transform(["a doc", np.nan])
    with pytest.raises(ValueError, match="empty vocabulary"):
        fm.CountVectorizer(stop_words="english").fit_transform(["the and of", "a"])
    with pytest.raises(ValueError, match="empty vocabulary"):
        fm.CountVectorizer().fit_transform([])
    with pytest.raises(ValueError, match="Cannot vectorize empty sequence"):
        fm.HashingVectorizer().transform([])
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        fm.CountVectorizer(min_df=3, max_df=2).fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="After pruning, no terms remain"):
        fm.CountVectorizer(min_df=len(DOCSTRINGS) + 1, max_df=len(DOCSTRINGS) + 1).fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="lower boundary larger than the upper boundary"):
        fm.CountVectorizer(ngram_range=(2, 1)).fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="strip_accents"):
        fm.CountVectorizer(strip_accents="nonsense").fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="max_features"):
        fm.CountVectorizer(max_features=-1).fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="Duplicate term in vocabulary"):
        fm.CountVectorizer(vocabulary=["a", "a"]).fit_transform(DOCSTRINGS)
    with pytest.raises(ValueError, match="Vocabulary not fitted or provided"):
        fm.CountVectorizer().transform(DOCSTRINGS)
    with pytest.warns(UserWarning, match="Upper case characters found in vocabulary"):
        fm.CountVectorizer(vocabulary=["The", "model"]).fit_transform(DOCSTRINGS)
    with pytest.warns(UserWarning, match="stop_words may be inconsistent"):
        fm.CountVectorizer(stop_words=["don't"]).fit_transform(DOCSTRINGS)
    with pytest.warns(UserWarning, match="'token_pattern' will not be used"):
        fm.CountVectorizer(analyzer="char", token_pattern=r"\w+").fit_transform(DOCSTRINGS)


@pytest.mark.parametrize("vocabulary", [["model", "the", "fit", "never seen"],
                                        {"fit": 2, "model": 0, "the": 1},
                                        {"model", "the", "data"}], ids=["list", "dict", "set"])
def test_given_vocabulary_matches_scikit_learn(vocabulary):
    ours, theirs = fm.CountVectorizer(vocabulary=vocabulary), sk.CountVectorizer(vocabulary=vocabulary)
    _assert_same_csr(ours.fit_transform(DOCSTRINGS), theirs.fit_transform(DOCSTRINGS))
    _assert_same_csr(fm.CountVectorizer(vocabulary=vocabulary).transform(UNICODE_DOCS),
                     theirs.transform(UNICODE_DOCS))
    assert ours.vocabulary_ == theirs.vocabulary_ and ours.fixed_vocabulary_


def test_sparse_interface_follows_the_configuration():
    with sklearn_config_context(sparse_interface="sparray"):
        for ours, theirs in [(fm.CountVectorizer(), sk.CountVectorizer()),
                             (fm.TfidfVectorizer(), sk.TfidfVectorizer()),
                             (fm.HashingVectorizer(), sk.HashingVectorizer())]:
            _assert_same_csr(ours.fit_transform(DOCSTRINGS), theirs.fit_transform(DOCSTRINGS))


def test_results_do_not_depend_on_threads_or_batches(monkeypatch):
    docs = DOCSTRINGS + UNICODE_DOCS
    params = {"ngram_range": (1, 3), "min_df": 2, "max_features": 300}
    results = []
    for n_jobs, batch in [(1, 8192), (2, 8192), (2, 7), (2, 1)]:
        monkeypatch.setattr(fm, "_BATCH", batch)
        with fastml.config_context(n_jobs=n_jobs):
            vectorizer = fm.CountVectorizer(**params)
            results.append((vectorizer.fit_transform(docs), vectorizer.vocabulary_,
                            fm.HashingVectorizer(ngram_range=(1, 2)).transform(docs)))
    for X, vocabulary, H in results[1:]:
        _assert_same_csr(X, results[0][0])
        _assert_same_csr(H, results[0][2])
        assert vocabulary == results[0][1]


def test_pickling_round_trips():
    for vectorizer in (fm.CountVectorizer(ngram_range=(1, 2)), fm.TfidfVectorizer(min_df=2)):
        vectorizer.fit(DOCSTRINGS)
        restored = pickle.loads(pickle.dumps(vectorizer))
        _assert_same_csr(restored.transform(DOCSTRINGS), vectorizer.transform(DOCSTRINGS))


def test_scikit_learn_private_methods_relied_on_exist():
    for cls in (sk.CountVectorizer, sk.TfidfVectorizer, sk.HashingVectorizer):
        for name in VECTORIZER_PRIVATE_METHODS:
            if cls is not sk.HashingVectorizer or name in ("_validate_ngram_range",
                                                           "_warn_for_unused_params"):
                assert callable(getattr(cls, name))
