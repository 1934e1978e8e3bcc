// fastml.feature_extraction._text_fast: the text vectorizers' core (fastml/text.hpp).
// Documents arrive as a list whose items are ASCII str (read in place) or UTF-8 bytes; the list is
// read with the GIL held, then the work runs without it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fastml/binding_checks.hpp"
#include "fastml/text.hpp"
#include "text/unicode_classes.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_threads;
using fastml::text::AnalyzerSpec;
using fastml::text::Document;
using fastml::text::TermCounter;

namespace {

// The documents of `docs`, which must stay alive while they are used.
std::vector<Document> documents(const py::list& docs) {
  std::vector<Document> out;
  out.reserve(docs.size());
  for (const py::handle item : docs) {
    PyObject* o = item.ptr();
    if (PyUnicode_Check(o) && PyUnicode_IS_COMPACT_ASCII(o)) {
      out.push_back({static_cast<const char*>(PyUnicode_DATA(o)),
                     static_cast<std::size_t>(PyUnicode_GET_LENGTH(o))});
    } else if (PyBytes_Check(o)) {
      out.push_back({PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o))});
    } else {
      throw py::type_error("documents must be ASCII str or UTF-8 bytes");
    }
  }
  return out;
}

AnalyzerSpec analyzer_spec(int kind, int min_n, int max_n, int min_token_chars,
                           const std::vector<py::bytes>& stop_words) {
  AnalyzerSpec spec;
  spec.kind = kind;
  spec.min_n = min_n;
  spec.max_n = max_n;
  spec.min_token_chars = min_token_chars;
  for (const py::bytes& word : stop_words) spec.stop_words.push_back(std::string(word));
  return spec;
}

// Python str of UTF-8 bytes that may hold lone surrogates ("surrogatepass", as they were encoded).
py::str decode(std::string_view term) {
  PyObject* s = PyUnicode_DecodeUTF8(term.data(), static_cast<Py_ssize_t>(term.size()), "surrogatepass");
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

// CSR index arrays in int32 where the stored entries allow it (scipy's and scikit-learn's choice).
template <class Fill>
py::tuple csr(const std::vector<std::int64_t>& row_sizes, Fill&& fill) {
  const std::size_t n = row_sizes.size();
  py::array_t<std::int64_t> indptr(static_cast<py::ssize_t>(n + 1));
  std::int64_t* p = indptr.mutable_data();
  p[0] = 0;
  for (std::size_t i = 0; i < n; ++i) p[i + 1] = p[i] + row_sizes[i];
  const std::int64_t nnz = p[n];
  if (nnz <= std::numeric_limits<std::int32_t>::max()) {
    py::array_t<std::int32_t> indices(nnz);
    py::object values = fill(p, indices.mutable_data());
    return py::make_tuple(indptr.attr("astype")("int32"), indices, values);
  }
  py::array_t<std::int64_t> indices(nnz);
  py::object values = fill(p, indices.mutable_data());
  return py::make_tuple(indptr, indices, values);
}

class PyTermCounter {
 public:
  PyTermCounter(int kind, int min_n, int max_n, int min_token_chars,
                const std::vector<py::bytes>& stop_words, int n_threads,
                std::optional<std::vector<py::bytes>> terms,
                std::optional<py::array_t<std::int64_t, py::array::c_style>> columns) {
    require_threads(n_threads);
    const AnalyzerSpec spec = analyzer_spec(kind, min_n, max_n, min_token_chars, stop_words);
    require(terms.has_value() == columns.has_value(), "terms and columns go together");
    if (terms) {
      require(columns->ndim() == 1 && columns->shape(0) == static_cast<py::ssize_t>(terms->size()),
              "columns must have one entry per term");
      std::vector<std::string> t;
      t.reserve(terms->size());
      for (const py::bytes& term : *terms) t.push_back(std::string(term));
      std::vector<std::int64_t> c(columns->data(), columns->data() + columns->shape(0));
      counter_.emplace(spec, t, c, n_threads);
    } else {
      counter_.emplace(spec, n_threads);
    }
  }

  void add(const py::list& docs) {
    const std::vector<Document> d = documents(docs);
    py::gil_scoped_release release;
    counter_->add(d.data(), d.size());
  }

  std::size_t n_documents() const { return counter_->n_documents(); }
  std::size_t n_terms() {
    py::gil_scoped_release release;
    return counter_->n_terms();
  }

  py::tuple keep(double low, double high) {
    std::vector<std::int64_t> df, tf;
    {
      py::gil_scoped_release release;
      counter_->keep(low, high, df, tf);
    }
    return py::make_tuple(to_array(df), to_array(tf));
  }

  void select(const py::array_t<std::int64_t, py::array::c_style>& positions) {
    require(positions.ndim() == 1, "positions must be 1-dimensional");
    std::vector<std::int64_t> p(positions.data(), positions.data() + positions.shape(0));
    py::gil_scoped_release release;
    counter_->select(p);
  }

  // {term: column}; columns as NumPy int64 scalars where scikit-learn's vocabulary holds them.
  py::dict vocabulary(bool numpy_ints) const {
    const auto terms = counter_->terms();
    py::dict out;
    const py::object int64 = py::module_::import("numpy").attr("int64");
    for (std::size_t c = 0; c < terms.size(); ++c) {
      const py::object column = numpy_ints ? int64(c) : py::int_(c);
      out[decode(terms[c])] = column;
    }
    return out;
  }

  py::tuple matrix(bool binary) const {
    std::vector<std::int64_t> sizes;
    {
      py::gil_scoped_release release;
      sizes = counter_->row_sizes();
    }
    return csr(sizes, [&](const std::int64_t* indptr, auto* indices) {
      py::array_t<std::int64_t> counts(indptr[sizes.size()]);
      std::int64_t* out = counts.mutable_data();
      py::gil_scoped_release release;
      counter_->fill(indptr, indices, out, binary);
      return py::object(counts);
    });
  }

 private:
  std::optional<TermCounter> counter_;
};

py::tuple hash_documents(const py::list& docs, int kind, int min_n, int max_n, int min_token_chars,
                         const std::vector<py::bytes>& stop_words, std::int64_t n_features,
                         bool alternate_sign, int n_threads) {
  require_threads(n_threads);
  const AnalyzerSpec spec = analyzer_spec(kind, min_n, max_n, min_token_chars, stop_words);
  const std::vector<Document> d = documents(docs);
  fastml::text::HashedRows rows;
  {
    py::gil_scoped_release release;
    rows = fastml::text::hash_documents(spec, d.data(), d.size(), n_features, alternate_sign,
                                        n_threads);
  }
  return py::make_tuple(to_array(rows.row_sizes), to_array(rows.indices), to_array(rows.values),
                        rows.surrogate_term);
}

// The terms of one document, in order: for the tests against the reference analyzer.
py::list analyze(const py::bytes& doc, int kind, int min_n, int max_n, int min_token_chars,
                 const std::vector<py::bytes>& stop_words) {
  const AnalyzerSpec spec = analyzer_spec(kind, min_n, max_n, min_token_chars, stop_words);
  const std::string text(doc);
  py::list out;
  for (const std::string& term : fastml::text::document_terms(spec, {text.data(), text.size()}))
    out.append(decode(term));
  return out;
}

}  // namespace

PYBIND11_MODULE(_text_fast, m) {
  m.doc() = "Compiled core of fastml's text vectorizers";
  py::class_<PyTermCounter>(m, "TermCounter")
      .def(py::init<int, int, int, int, const std::vector<py::bytes>&, int,
                    std::optional<std::vector<py::bytes>>,
                    std::optional<py::array_t<std::int64_t, py::array::c_style>>>(),
           py::arg("kind"), py::arg("min_n"), py::arg("max_n"), py::arg("min_token_chars"),
           py::arg("stop_words"), py::arg("n_threads"), py::arg("terms") = py::none(),
           py::arg("columns") = py::none())
      .def("add", &PyTermCounter::add, py::arg("docs"))
      .def_property_readonly("n_documents", &PyTermCounter::n_documents)
      .def("n_terms", &PyTermCounter::n_terms)
      .def("keep", &PyTermCounter::keep, py::arg("low"), py::arg("high"))
      .def("select", &PyTermCounter::select, py::arg("positions"))
      .def("vocabulary", &PyTermCounter::vocabulary, py::arg("numpy_ints"))
      .def("matrix", &PyTermCounter::matrix, py::arg("binary"));
  m.def("hash_documents", &hash_documents, py::arg("docs"), py::arg("kind"), py::arg("min_n"),
        py::arg("max_n"), py::arg("min_token_chars"), py::arg("stop_words"),
        py::arg("n_features"), py::arg("alternate_sign"), py::arg("n_threads"));
  m.def("analyze", &analyze, py::arg("doc"), py::arg("kind"), py::arg("min_n"), py::arg("max_n"),
        py::arg("min_token_chars"), py::arg("stop_words"));
  m.def("murmurhash3_32", [](const py::bytes& data, std::uint32_t seed) {
          const std::string s(data);
          return fastml::text::murmurhash3_32(s.data(), s.size(), seed);
        }, py::arg("data"), py::arg("seed") = 0);
  m.attr("unicode_version") = fastml::text::kUnicodeVersion;
}
