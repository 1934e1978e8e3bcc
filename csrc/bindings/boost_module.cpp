// fastml.ensemble._boost_fast: the gradient boosting core of csrc/boost (gradients of the losses,
// tree growth, the packed prediction walk). Checks every shape and index at entry (the core
// trusts them), then releases the GIL. Arrays must already be C-contiguous and of the stated
// dtype: no argument is converted, so an output array is never a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "boost_binding_checks.hpp"
#include "fastml/binding_checks.hpp"
#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace py = pybind11;
namespace boost = fastml::boost;
using boost::index_t;
using fastml::bindings::checked;
using fastml::bindings::checked_out;
using fastml::bindings::has_dtype;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;

namespace {

// The inputs of a loss's gradients, checked: y (n), raw (n, K), sample_weight (n) or None, the
// OUT gh (K, n, 2) float32.
struct GradientInputs {
  boost::Loss loss;
  index_t n, K;
  const double *y, *raw, *sample_weight;
  boost::GradHess* gh;
};
GradientInputs checked_gradient_inputs(int loss, const py::array& y, const py::array& raw,
                                       const py::object& sample_weight, py::array& gh) {
  require(loss >= boost::kSquaredError && loss <= boost::kMultinomial, "unknown loss");
  require(y.ndim() == 1 && raw.ndim() == 2, "y must be 1-d and raw 2-d");
  const index_t n = y.shape(0), K = raw.shape(1);
  require(K == 1 || loss == boost::kMultinomial, "one output expected for this loss");
  const double* yp = checked<double>(y, "y", {n});
  const double* rp = checked<double>(raw, "raw", {n, K});
  const double* sw = nullptr;
  if (!sample_weight.is_none()) sw = checked<double>(sample_weight.cast<py::array>(), "sample_weight", {n});
  float* out = checked_out<float>(gh, "gh", {K, n, 2});
  if (loss == boost::kMultinomial)
    for (index_t i = 0; i < n; ++i)
      require(yp[i] >= 0 && yp[i] < static_cast<double>(K) && yp[i] == static_cast<index_t>(yp[i]),
              "y must hold class indices 0 .. n_classes - 1");
  return {static_cast<boost::Loss>(loss), n, K, yp, rp, sw, reinterpret_cast<boost::GradHess*>(out)};
}

void gradients(int loss, const py::array& y, const py::array& raw, const py::object& sample_weight,
               double quantile, py::array& gh, int n_threads) {
  const GradientInputs in = checked_gradient_inputs(loss, y, raw, sample_weight, gh);
  require_threads(n_threads);
  py::gil_scoped_release release;
  boost::gradients(in.loss, in.y, in.raw, in.sample_weight, in.n, in.K, quantile, in.gh,
                   n_threads);
}

// Rows in queries: labels y and scores (n_rows) float64, offsets (n_queries + 1) int64 from 0 to
// n_rows, increasing, checked.
struct Queries {
  index_t n, Q;
  const double *y, *score;
  const std::int64_t* offsets;
};
Queries checked_queries(const py::array& y, const py::array& score, const py::array& offsets) {
  require(y.ndim() == 1 && offsets.ndim() == 1 && offsets.shape(0) >= 1,
          "y must be 1-d and offsets 1-d, non-empty");
  const index_t n = y.shape(0), Q = offsets.shape(0) - 1;
  Queries q{n, Q, checked<double>(y, "y", {n}), checked<double>(score, "score", {n}),
            checked<std::int64_t>(offsets, "offsets", {Q + 1})};
  require(q.offsets[0] == 0 && q.offsets[Q] == n, "offsets must run from 0 to n_rows");
  for (index_t i = 0; i < Q; ++i)
    require(q.offsets[i] < q.offsets[i + 1], "offsets must increase");
  return q;
}

void lambdarank_gradients(const py::array& y, const py::array& score, const py::array& offsets,
                          index_t truncation_level, bool norm, double sigmoid, py::array& gh,
                          int n_threads, const py::object& sample_weight) {
  const Queries queries = checked_queries(y, score, offsets);
  const index_t n = queries.n, Q = queries.Q;
  const double *yp = queries.y, *sp = queries.score;
  const std::int64_t* off = queries.offsets;
  for (index_t i = 0; i < n; ++i) require(yp[i] >= 0 && yp[i] < 64, "labels must lie in [0, 64)");
  require(truncation_level >= 1 && sigmoid > 0, "truncation_level >= 1 and sigmoid > 0 expected");
  const double* sw = nullptr;
  if (!sample_weight.is_none()) sw = checked<double>(sample_weight.cast<py::array>(), "sample_weight", {n});
  float* out = checked_out<float>(gh, "gh", {n, 2});
  require_threads(n_threads);
  py::gil_scoped_release release;
  boost::lambdarank_gradients(yp, sp, sw, off, Q, truncation_level, norm, sigmoid,
                              reinterpret_cast<boost::GradHess*>(out), n_threads);
}

void query_dcg(const py::array& y, const py::array& score, const py::array& offsets, index_t k,
               py::array& dcg, int n_threads) {
  const Queries queries = checked_queries(y, score, offsets);
  const index_t n = queries.n, Q = queries.Q;
  const double *yp = queries.y, *sp = queries.score;
  const std::int64_t* off = queries.offsets;
  require(k >= 1, "k >= 1 expected");
  double* out = checked_out<double>(dcg, "dcg", {Q});
  require_threads(n_threads);
  py::gil_scoped_release release;
  boost::query_dcg(yp, sp, off, Q, k, out, n_threads);
}

// A grown tree: its node arrays (scikit-learn's TreePredictor fields) and its rows by leaf.
struct GrownTree {
  boost::Tree tree;
};

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// The categorical preprocessing's X: 2-d, C-contiguous float32 or float64 (the estimator's
// validated X); true for float32.
bool checked_category_input(const py::array& X) {
  require(X.ndim() == 2, "X must be 2-d");
  const bool single = has_dtype<float>(X);
  require(single || has_dtype<double>(X), "X must be a C-contiguous float32 or float64 array");
  return single;
}

// Per column of X in columns: its sorted categories (int64) where all its values are NaN or
// integers in [0, limit), else None.
py::list integer_categories(const py::array& X, const py::array& columns, index_t limit,
                            int n_threads) {
  const bool single = checked_category_input(X);
  const index_t n = X.shape(0), F = X.shape(1);
  require(columns.ndim() == 1, "columns must be 1-d");
  const index_t k = columns.shape(0);
  const std::int64_t* cols = checked<std::int64_t>(columns, "columns", {k});
  for (index_t j = 0; j < k; ++j) require(cols[j] >= 0 && cols[j] < F, "column out of X");
  require(limit >= 1 && limit <= (index_t{1} << 24), "limit must lie in [1, 2**24]");
  require_threads(n_threads);
  std::vector<std::uint8_t> present(static_cast<std::size_t>(k * limit), 0), valid(k);
  {
    py::gil_scoped_release release;
    if (single)
      boost::integer_categories(static_cast<const float*>(X.data()), n, F, cols, k, limit,
                                present.data(), valid.data(), n_threads);
    else
      boost::integer_categories(static_cast<const double*>(X.data()), n, F, cols, k, limit,
                                present.data(), valid.data(), n_threads);
  }
  py::list out;
  for (index_t j = 0; j < k; ++j) {
    if (!valid[j]) {
      out.append(py::none());
      continue;
    }
    std::vector<std::int64_t> categories;
    const std::uint8_t* p = present.data() + j * limit;
    for (index_t c = 0; c < limit; ++c)
      if (p[c]) categories.push_back(c);
    out.append(to_array(categories));
  }
  return out;
}

// out = X encoded (see boost::encode_categories); false where a categorical value is infinite.
bool encode_categories(const py::array& X, const py::array& is_categorical,
                       const py::array& tables, const py::array& table_offsets, py::array& out,
                       int n_threads) {
  const bool single = checked_category_input(X);
  const index_t n = X.shape(0), F = X.shape(1);
  const std::uint8_t* cat = checked<std::uint8_t>(is_categorical, "is_categorical", {F});
  const index_t k = std::count_if(cat, cat + F, [](std::uint8_t c) { return c != 0; });
  require(tables.ndim() == 1, "tables must be 1-d");
  const double* t = checked<double>(tables, "tables", {tables.shape(0)});
  const std::int64_t* off = checked<std::int64_t>(table_offsets, "table_offsets", {k + 1});
  require(off[0] == 0 && off[k] == tables.shape(0), "table_offsets must run from 0 to the tables' size");
  for (index_t j = 0; j < k; ++j) require(off[j] <= off[j + 1], "table_offsets must not decrease");
  require_threads(n_threads);
  if (single) {
    float* o = checked_out<float>(out, "out", {n, F});
    py::gil_scoped_release release;
    return boost::encode_categories(static_cast<const float*>(X.data()), n, F, cat, t, off, o,
                                    n_threads);
  }
  double* o = checked_out<double>(out, "out", {n, F});
  py::gil_scoped_release release;
  return boost::encode_categories(static_cast<const double*>(X.data()), n, F, cat, t, off, o,
                                  n_threads);
}

std::unique_ptr<GrownTree> grow_tree(const py::array& codes, const py::array& gh,
                                     const py::array& n_bins_non_missing,
                                     const py::array& has_missing, index_t n_bins,
                                     index_t max_leaf_nodes, index_t max_depth,
                                     index_t min_samples_leaf, double l2_regularization,
                                     double min_hessian_to_split, double shrinkage,
                                     bool constant_hessian, const py::object& monotonic_cst,
                                     const std::vector<std::vector<std::int32_t>>& interaction_cst,
                                     double feature_fraction, std::uint64_t seed, int n_threads,
                                     const py::object& is_categorical, int quantized_levels,
                                     std::uint64_t quantize_seed, const py::object& wide_codes,
                                     const py::object& wide_features,
                                     const py::object& row_codes,
                                     boost::GrowBuffers* buffers) {
  require(codes.ndim() == 2, "codes must be 2-d");
  const index_t n = codes.shape(0), F = codes.shape(1);
  require(n >= 1 && n < (index_t{1} << 31) - 1 && F >= 1, "codes must be non-empty with < 2**31 rows");
  require(n_bins >= 3 && n_bins <= boost::kBins, "n_bins must lie in [3, 256]");
  require(min_samples_leaf >= 1 && max_leaf_nodes >= 0 && max_depth >= 0, "bad growth limits");
  require(l2_regularization >= 0 && min_hessian_to_split >= 0, "bad regularisation");
  require(feature_fraction > 0 && feature_fraction <= 1, "feature_fraction must lie in (0, 1]");
  // a bin's integer sums must fit their 32-bit halves (gradient signed, hessian unsigned)
  require(quantized_levels == 0 ||
              (quantized_levels >= 2 && quantized_levels <= 256 && quantized_levels % 2 == 0 &&
               n * quantized_levels < (index_t{1} << 31)),
          "quantized_levels must be 0 or even in [2, 256], with n_rows * levels < 2**31");
  require_threads(n_threads);
  // column-major codes: a feature's codes contiguous, as the histograms and the partition read them
  require(py::isinstance<py::array_t<std::uint8_t>>(codes) &&
              (codes.flags() & py::array::f_style) != 0,
          "codes must be a Fortran-ordered (column-major) uint8 array");
  boost::Data data{n, F, n_bins, static_cast<const std::uint8_t*>(codes.data()),
                   checked<std::uint16_t>(n_bins_non_missing, "n_bins_non_missing", {F}),
                   checked<std::uint8_t>(has_missing, "has_missing", {F})};
  const float* g = checked<float>(gh, "gh", {n, 2});
  boost::GrowParams p{max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization,
                      min_hessian_to_split, shrinkage, constant_hessian, {}, interaction_cst,
                      feature_fraction, seed, quantized_levels, quantize_seed};
  fastml::bindings::set_feature_constraints(monotonic_cst, is_categorical, F, p, data);
  // wide categorical features: their uint16 codes, column-major (see boost::Data)
  std::vector<std::int32_t> wide_column;
  require(wide_codes.is_none() == wide_features.is_none(),
          "wide_codes and wide_features go together");
  if (!wide_features.is_none()) {
    const py::array wf = wide_features.cast<py::array>();
    const py::array wc = wide_codes.cast<py::array>();
    require(wf.ndim() == 1 && wc.ndim() == 2, "wide_features must be 1-d and wide_codes 2-d");
    const index_t W = wf.shape(0);
    const std::int64_t* feat = checked<std::int64_t>(wf, "wide_features", {W});
    require(py::isinstance<py::array_t<std::uint16_t>>(wc) && (wc.flags() & py::array::f_style) &&
                wc.shape(0) == n && wc.shape(1) == W,
            "wide_codes must be a Fortran-ordered uint16 array of (n_rows, len(wide_features))");
    wide_column.assign(static_cast<std::size_t>(F), -1);
    for (index_t j = 0; j < W; ++j) {
      require(feat[j] >= 0 && feat[j] < F && wide_column[feat[j]] < 0 &&
                  data.is_categorical != nullptr && data.is_categorical[feat[j]],
              "wide_features must be distinct categorical features");
      wide_column[feat[j]] = static_cast<std::int32_t>(j);
    }
    data.wide_codes = static_cast<const std::uint16_t*>(wc.data());
    data.wide_column = wide_column.data();
    data.n_wide = W;
  }
  for (index_t f = 0; f < F; ++f) {
    const index_t nb = data.n_bins_non_missing[f];
    require(nb >= 1 && (data.is_wide(f) ? nb <= boost::kMaxCategories : nb < n_bins),
            "n_bins_non_missing must lie in [1, n_bins), or [1, 65535] for a wide feature");
    // the missing code's bit too
    if (data.is_wide(f)) data.bitset_words = std::max<index_t>(data.bitset_words, nb / 32 + 1);
  }
  if (!row_codes.is_none()) {
    const py::array rc = row_codes.cast<py::array>();
    require(rc.ndim() == 2 && py::isinstance<py::array_t<std::uint8_t>>(rc) &&
                (rc.flags() & py::array::c_style) && rc.shape(0) == n &&
                rc.shape(1) == data.row_width(),
            "row_codes must be a C-ordered uint8 array of (n_rows, n_features + "
            "len(wide_features))");
    data.row_codes = static_cast<const std::uint8_t*>(rc.data());
  }
  for (const auto& group : interaction_cst)
    for (const std::int32_t f : group)
      require(f >= 0 && f < F, "interaction_cst holds a feature index out of range");
  // A wide feature's codes must be its categories or its missing code: its histograms are
  // sized to them. A uint8 code cannot index past its feature's 256 bins; that it is a bin of
  // its feature or the missing bin the grower checks on the histograms it fills (a pass over
  // every code, once a tree, was about 6% of the bench's growth, twice that with row_codes).
  if (data.wide_column != nullptr) {
    py::gil_scoped_release release;
    int ok = 1;
    const int threads = fastml_region_threads(0.2 * static_cast<double>(n) * F, n_threads);
#pragma omp parallel for schedule(static) num_threads(threads) reduction(&& : ok) if (threads > 1)
    for (index_t f = 0; f < F; ++f) {
      if (!data.is_wide(f)) continue;
      const std::uint16_t* column = data.wide(f);
      const std::uint16_t limit = data.n_bins_non_missing[f];
      std::uint8_t bad = 0;
      for (index_t i = 0; i < n; ++i) bad |= static_cast<std::uint8_t>(column[i] > limit);
      ok = ok && bad == 0;
    }
    if (!ok) {
      py::gil_scoped_acquire acquire;
      require(false, "codes must lie below n_bins_non_missing or be the missing bin");
    }
  }
  auto out = std::make_unique<GrownTree>();
  {
    py::gil_scoped_release release;
    out->tree =
        boost::grow_tree(data, reinterpret_cast<const boost::GradHess*>(g), p, n_threads, buffers);
  }
  return out;
}

void add_leaf_values(const GrownTree& grown, py::array& raw, index_t column, int n_threads,
                     boost::GrowBuffers* buffers) {
  require_threads(n_threads);
  require(raw.ndim() == 2 && column >= 0 && column < raw.shape(1), "column out of raw");
  const index_t n = static_cast<index_t>(grown.tree.rows.size());
  double* r = checked_out<double>(raw, "raw", {n, raw.shape(1)});
  py::gil_scoped_release release;
  boost::add_leaf_values(grown.tree, r + column, raw.shape(1), n_threads, buffers);
}

void add_leaf_values_and_gradients(const GrownTree& grown, int loss, const py::array& y,
                                   py::array& raw, const py::object& sample_weight,
                                   double quantile, py::array& gh, int n_threads,
                                   boost::GrowBuffers* buffers) {
  require_threads(n_threads);
  const GradientInputs in = checked_gradient_inputs(loss, y, raw, sample_weight, gh);
  // multinomial gradients need every class's raw values: only one-output losses here
  require(in.K == 1 && in.loss != boost::kMultinomial, "one output expected for this loss");
  require(in.n == static_cast<index_t>(grown.tree.rows.size()), "raw must have the tree's rows");
  double* r = checked_out<double>(raw, "raw", {in.n, 1});
  const boost::NextGradients next{in.loss, in.y, in.sample_weight, quantile, in.gh};
  py::gil_scoped_release release;
  boost::add_leaf_values(grown.tree, r, 1, n_threads, buffers, &next);
}

std::unique_ptr<boost::PackedTrees> pack(const py::array& offsets, const py::array& output,
                                         const py::array& is_leaf, const py::array& feature,
                                         const py::array& threshold, const py::array& bin,
                                         const py::array& missing_left, const py::array& left,
                                         const py::array& right, const py::array& value,
                                         const py::array& is_categorical,
                                         const py::array& bitset_idx, const py::array& bitsets,
                                         const py::array& lockstep, index_t n_features,
                                         index_t n_outputs) {
  require(offsets.ndim() == 1 && offsets.shape(0) >= 1, "offsets must be 1-d, non-empty");
  const index_t T = offsets.shape(0) - 1;
  const std::int64_t* off = checked<std::int64_t>(offsets, "offsets", {T + 1});
  require(off[0] == 0, "offsets must start at 0");
  for (index_t t = 0; t < T; ++t) require(off[t] < off[t + 1], "offsets must increase");
  const index_t N = off[T];
  const std::int64_t* out = checked<std::int64_t>(output, "output", {T});
  for (index_t t = 0; t < T; ++t) require(out[t] >= 0 && out[t] < n_outputs, "output out of range");
  const std::uint8_t* leaf = checked<std::uint8_t>(is_leaf, "is_leaf", {N});
  const std::int64_t* feat = checked<std::int64_t>(feature, "feature", {N});
  for (index_t i = 0; i < N; ++i)
    require(leaf[i] || (feat[i] >= 0 && feat[i] < n_features), "feature out of range");
  require(bitsets.ndim() == 2 && bitsets.shape(1) >= boost::kBitsetWords,
          "bitsets must be 2-d, of 8 words or more");
  auto packed = std::make_unique<boost::PackedTrees>(
      T, off, out, leaf, feat, checked<double>(threshold, "threshold", {N}),
      checked<std::uint8_t>(bin, "bin", {N}), checked<std::uint8_t>(missing_left, "missing_left", {N}),
      checked<std::int64_t>(left, "left", {N}), checked<std::int64_t>(right, "right", {N}),
      checked<double>(value, "value", {N}), checked<std::uint8_t>(is_categorical, "is_categorical", {N}),
      checked<std::int64_t>(bitset_idx, "bitset_idx", {N}),
      checked<std::uint32_t>(bitsets, "bitsets", {bitsets.shape(0), bitsets.shape(1)}),
      bitsets.shape(0), bitsets.shape(1), checked<std::uint8_t>(lockstep, "lockstep", {T}));
  packed->n_outputs = n_outputs;
  return packed;
}

template <class T>
void predict_as(const boost::PackedTrees& packed, const py::array& X, py::array& raw,
                index_t n_features, int n_threads, bool leaf_masks) {
  const index_t n = X.shape(0);
  const T* x = checked<T>(X, "X", {n, n_features});
  double* r = checked_out<double>(raw, "raw", {n, packed.n_outputs});
  py::gil_scoped_release release;
  packed.predict(x, n, n_features, r, raw.shape(1), n_threads, leaf_masks);
}

// The CSR rows' walk: indptr must run from 0 to nnz without decreasing, and every row's
// column indices increase (no duplicates) and lie below n_features.
template <class T>
void predict_csr_as(const boost::PackedTrees& packed, const py::array& data,
                    const py::array& indices, const py::array& indptr, py::array& raw,
                    index_t n_features, int n_threads, bool leaf_masks) {
  require(data.ndim() == 1 && indices.ndim() == 1 && indptr.ndim() == 1 && indptr.shape(0) >= 1,
          "data, indices and indptr must be 1-d, indptr non-empty");
  const index_t nnz = data.shape(0), n = indptr.shape(0) - 1;
  const T* d = checked<T>(data, "data", {nnz});
  const std::int64_t* idx = checked<std::int64_t>(indices, "indices", {nnz});
  const std::int64_t* ptr = checked<std::int64_t>(indptr, "indptr", {n + 1});
  double* r = checked_out<double>(raw, "raw", {n, packed.n_outputs});
  require(ptr[0] == 0 && ptr[n] == nnz, "indptr must run from 0 to nnz");
  for (index_t i = 0; i < n; ++i) {
    require(ptr[i] <= ptr[i + 1], "indptr must not decrease");
    for (std::int64_t k = ptr[i]; k < ptr[i + 1]; ++k)
      require(idx[k] >= 0 && idx[k] < n_features && (k == ptr[i] || idx[k - 1] < idx[k]),
              "each row's column indices must increase and lie below n_features");
  }
  py::gil_scoped_release release;
  packed.predict_csr(d, idx, ptr, n, n_features, r, raw.shape(1), n_threads, leaf_masks);
}

}  // namespace

PYBIND11_MODULE(_boost_fast, m) {
  m.doc() = "Gradient boosting core: losses' gradients, tree growth, packed prediction (C++, OpenMP).";
  m.attr("N_BINS") = boost::kBins;
  m.attr("MISSING_BIN") = boost::kMissingBin;
  m.attr("MAX_CATEGORIES") = boost::kMaxCategories;
  py::enum_<boost::Loss>(m, "Loss")
      .value("squared_error", boost::kSquaredError)
      .value("absolute_error", boost::kAbsoluteError)
      .value("quantile", boost::kQuantile)
      .value("poisson", boost::kPoisson)
      .value("gamma", boost::kGamma)
      .value("binomial", boost::kBinomial)
      .value("multinomial", boost::kMultinomial);
  m.def("gradients", &gradients, py::arg("loss"), py::arg("y"), py::arg("raw"),
        py::arg("sample_weight"), py::arg("quantile"), py::arg("gh"), py::arg("n_threads"),
        "OUT gh (n_trees, n_rows, 2) float32: gradients and hessians of loss (an int of Loss) at "
        "raw (n_rows, n_trees) float64 for y (float64; class indices for multinomial), times "
        "sample_weight (float64 or None).");
  m.def("lambdarank_gradients", &lambdarank_gradients, py::arg("y"), py::arg("score"),
        py::arg("offsets"), py::arg("truncation_level"), py::arg("norm"), py::arg("sigmoid"),
        py::arg("gh"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        "OUT gh (n_rows, 2) float32: LambdaMART's NDCG gradients and hessians at score for "
        "labels y (float64), query q's rows offsets[q] .. offsets[q + 1] (int64), each row's "
        "times its sample_weight (float64 or None).");
  m.def("query_dcg", &query_dcg, py::arg("y"), py::arg("score"), py::arg("offsets"),
        py::arg("k"), py::arg("dcg"), py::arg("n_threads"),
        "OUT dcg (n_queries,) float64: each query's DCG@k of score for labels y (float64; gain "
        "2^y - 1, equal scores in row order), query q's rows offsets[q] .. offsets[q + 1].");
  m.def("integer_categories", &integer_categories, py::arg("X"), py::arg("columns"),
        py::arg("limit"), py::arg("n_threads"),
        "Per column of X (float32 or float64, C-contiguous) in columns (int64): its sorted "
        "distinct non-missing values as int64 where they are all integers in [0, limit), else "
        "None.");
  m.def("encode_categories", &encode_categories, py::arg("X"), py::arg("is_categorical"),
        py::arg("tables"), py::arg("table_offsets"), py::arg("out"), py::arg("n_threads"),
        "OUT out (X's shape and dtype): the features of is_categorical (uint8) first, the j-th "
        "one's value v as tables[table_offsets[j] + v] (float64 tables, int64 offsets) where v "
        "is an integer within its table, NaN otherwise; the other features after them. False "
        "where a categorical value is infinite.");
  py::class_<GrownTree>(m, "GrownTree", "A tree grown by grow_tree, in preorder.")
      .def_property_readonly("value", [](const GrownTree& g) { return to_array(g.tree.value); })
      .def_property_readonly("gain", [](const GrownTree& g) { return to_array(g.tree.gain); })
      .def_property_readonly("count", [](const GrownTree& g) { return to_array(g.tree.count); })
      .def_property_readonly("depth", [](const GrownTree& g) { return to_array(g.tree.depth); })
      .def_property_readonly("left", [](const GrownTree& g) { return to_array(g.tree.left); })
      .def_property_readonly("right", [](const GrownTree& g) { return to_array(g.tree.right); })
      .def_property_readonly("feature", [](const GrownTree& g) { return to_array(g.tree.feature); })
      .def_property_readonly("missing_go_to_left",
                             [](const GrownTree& g) { return to_array(g.tree.missing_go_to_left); })
      .def_property_readonly("is_leaf", [](const GrownTree& g) { return to_array(g.tree.is_leaf); })
      .def_property_readonly("bin_threshold",
                             [](const GrownTree& g) { return to_array(g.tree.bin_threshold); })
      .def_property_readonly("is_categorical",
                             [](const GrownTree& g) { return to_array(g.tree.is_categorical); })
      .def_property_readonly("bitset_idx", [](const GrownTree& g) { return to_array(g.tree.bitset_idx); })
      .def_property_readonly("cat_bitsets",
                             [](const GrownTree& g) {
                               const auto& b = g.tree.cat_bitsets;
                               const auto words = static_cast<py::ssize_t>(g.tree.bitset_words);
                               py::array_t<std::uint32_t> out(
                                   {static_cast<py::ssize_t>(b.size()) / words, words});
                               std::copy(b.begin(), b.end(), out.mutable_data());
                               return out;
                             })
      .def_property_readonly("leaf_start", [](const GrownTree& g) { return to_array(g.tree.leaf_start); })
      .def_property_readonly("leaf_stop", [](const GrownTree& g) { return to_array(g.tree.leaf_stop); })
      .def_property_readonly("rows", [](const GrownTree& g) { return to_array(g.tree.rows); })
      .def("set_leaf_values",
           [](GrownTree& g, const py::array& values) {
             const double* v = checked<double>(values, "values", {g.tree.n_nodes()});
             for (index_t i = 0; i < g.tree.n_nodes(); ++i)
               if (g.tree.is_leaf[i]) g.tree.value[i] = v[i];
           },
           py::arg("values"), "Replaces the leaves' values (those of splits are kept).")
      .def("add_leaf_values", &add_leaf_values, py::arg("raw"), py::arg("column"),
           py::arg("n_threads") = 1, py::arg("buffers") = nullptr,
           "raw[:, column] += the value of the leaf each training row lies in (buffers: the "
           "fit's GrowBuffers, or None).")
      .def("add_leaf_values_and_gradients", &add_leaf_values_and_gradients, py::arg("loss"),
           py::arg("y"), py::arg("raw"), py::arg("sample_weight"), py::arg("quantile"),
           py::arg("gh"), py::arg("n_threads") = 1, py::arg("buffers") = nullptr,
           "add_leaf_values(raw, 0) for a one-output loss, and in the same pass over the rows "
           "OUT gh (1, n_rows, 2): gradients(loss, ...) at the new raw.");
  py::class_<boost::GrowBuffers>(
      m, "GrowBuffers",
      "Scratch kept from one grow_tree call to the next of a fit (its pages faulted in once).")
      .def(py::init<>());
  m.def("grow_tree", &grow_tree, py::arg("codes"), py::arg("gh"), py::arg("n_bins_non_missing"),
        py::arg("has_missing"), py::arg("n_bins"), py::arg("max_leaf_nodes"), py::arg("max_depth"),
        py::arg("min_samples_leaf"), py::arg("l2_regularization"),
        py::arg("min_hessian_to_split"), py::arg("shrinkage"), py::arg("constant_hessian"),
        py::arg("monotonic_cst"), py::arg("interaction_cst"), py::arg("feature_fraction"),
        py::arg("seed"), py::arg("n_threads"), py::arg("is_categorical") = py::none(),
        py::arg("quantized_levels") = 0, py::arg("quantize_seed") = 0,
        py::arg("wide_codes") = py::none(), py::arg("wide_features") = py::none(),
        py::arg("row_codes") = py::none(), py::arg("buffers") = py::none(),
        "Grows one tree on codes (n_rows, n_features) uint8 from gh (n_rows, 2) float32; "
        "max_leaf_nodes and max_depth 0 are no limit; is_categorical (n_features) uint8 or "
        "None marks the features whose codes are categories; quantized_levels > 0 grows it on "
        "gradients rounded to that many integer levels (stochastically, from quantize_seed) "
        "and values its leaves from the exact ones. Categorical features of more than "
        "n_bins - 1 categories (up to 65535) are wide_features (int64), their codes the "
        "columns of wide_codes (n_rows, len(wide_features)) uint16 column-major, a missing "
        "value coded n_bins_non_missing; their codes' columns in codes are not read; "
        "cat_bitsets then have a word per 32 codes of the widest. row_codes (or None): the "
        "same codes C-ordered, uint8 (n_rows, n_features + len(wide_features)): each "
        "feature's code (a wide feature's low byte), then the wide features' high bytes in "
        "wide_codes' order (row_major_codes), from which the histograms are filled. "
        "buffers: a GrowBuffers kept for the fit's trees, or None.");
  py::class_<boost::PackedTrees>(m, "PackedTrees", "Boosted trees packed for the prediction walk.")
      .def(py::init(&pack), py::arg("offsets"), py::arg("output"), py::arg("is_leaf"),
           py::arg("feature"), py::arg("threshold"), py::arg("bin"), py::arg("missing_left"),
           py::arg("left"), py::arg("right"), py::arg("value"), py::arg("is_categorical"),
           py::arg("bitset_idx"), py::arg("bitsets"), py::arg("lockstep"), py::arg("n_features"),
           py::arg("n_outputs"))
      .def("predict",
           [](const boost::PackedTrees& p, const py::array& X, py::array& raw, index_t n_features,
              int n_threads, bool leaf_masks) {
             require(X.ndim() == 2, "X must be 2-d");
             require_threads(n_threads);
             if (has_dtype<float>(X))
               return predict_as<float>(p, X, raw, n_features, n_threads, leaf_masks);
             predict_as<double>(p, X, raw, n_features, n_threads, leaf_masks);
           },
           py::arg("X"), py::arg("raw"), py::arg("n_features"), py::arg("n_threads"),
           py::arg("leaf_masks") = true,
           "raw (n_rows, n_outputs) += the trees' values for X (float32 or float64); several "
           "rows go through the trees' leaf bitmasks where every tree has at most 32 leaves, "
           "unless leaf_masks is False (then the trees are walked).")
      .def("predict_csr",
           [](const boost::PackedTrees& p, const py::array& data, const py::array& indices,
              const py::array& indptr, py::array& raw, index_t n_features, int n_threads,
              bool leaf_masks) {
             require_threads(n_threads);
             if (has_dtype<float>(data))
               return predict_csr_as<float>(p, data, indices, indptr, raw, n_features, n_threads,
                                            leaf_masks);
             predict_csr_as<double>(p, data, indices, indptr, raw, n_features, n_threads,
                                    leaf_masks);
           },
           py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("raw"),
           py::arg("n_features"), py::arg("n_threads"), py::arg("leaf_masks") = true,
           "raw (n_rows, n_outputs) += the trees' values for CSR rows (data float32 or float64, "
           "indices and indptr int64, each row's indices increasing; absent entries are 0).")
      .def("predict_binned",
           [](const boost::PackedTrees& p, const py::array& codes, py::array& raw,
              index_t n_features, int n_threads) {
             require(codes.ndim() == 2, "codes must be 2-d");
             require_threads(n_threads);
             const index_t n = codes.shape(0);
             double* r = checked_out<double>(raw, "raw", {n, p.n_outputs});
             if (has_dtype<std::uint16_t>(codes)) {
               const auto* c = checked<std::uint16_t>(codes, "codes", {n, n_features});
               py::gil_scoped_release release;
               p.predict_binned(c, n, n_features, r, raw.shape(1), n_threads);
               return;
             }
             const std::uint8_t* c = checked<std::uint8_t>(codes, "codes", {n, n_features});
             py::gil_scoped_release release;
             p.predict_binned(c, n, n_features, r, raw.shape(1), n_threads);
           },
           py::arg("codes"), py::arg("raw"), py::arg("n_features"), py::arg("n_threads"),
           "raw += the trees' values for bin codes (uint8, MISSING_BIN for missing; or uint16 "
           "for a model of wide categorical features, whose missing code is their number of "
           "categories).");
}
