// fastml.tree._cart: the CART cores of csrc/tree for float32 and float64 data.
// Checks every shape, dtype and index at entry (the cores trust them), then releases the GIL.
// Arrays are never converted: fastml.tree hands them over in their final dtype and layout.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fastml/binding_checks.hpp"
#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace py = pybind11;
using fastml::bindings::owned_array;
using fastml::bindings::require;
using fastml::bindings::require_threads;
namespace cart = fastml::cart;
using cart::index_t;

namespace {

// Equivalent dtypes count (int64 is 'l' or 'q'; unpickled arrays carry their own dtype object).
template <class T>
bool has_dtype(const py::array& a) {
  return py::isinstance<py::array_t<T>>(a);
}

// The data pointer of a C-contiguous array of dtype T and the given shape.
template <class T>
const T* checked(const py::array& a, const std::string& name, std::initializer_list<index_t> shape) {
  require(has_dtype<T>(a), name + " has the wrong dtype");
  require((a.flags() & py::array::c_style) != 0, name + " must be C-contiguous");
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  index_t axis = 0;
  for (index_t extent : shape) ok = ok && a.shape(axis++) == extent;
  require(ok, name + " has the wrong shape");
  return static_cast<const T*>(a.data());
}

template <class T>
T* checked_mut(py::array& a, const std::string& name, std::initializer_list<index_t> shape) {
  require(a.writeable(), name + " must be writeable");
  return const_cast<T*>(checked<T>(a, name, shape));
}

// Bin thresholds: ascending, no NaN, and the last two of each feature +inf (codes 255 and 254
// are the missing bin and the last value bin).
void require_thresholds(const double* t, index_t n_features) {
  for (index_t f = 0; f < n_features; ++f) {
    const double* row = t + f * cart::kBins;
    for (int b = 0; b < cart::kBins; ++b) {
      require(!std::isnan(row[b]), "bin_threshold must not hold NaN");
      require(b == 0 || row[b] >= row[b - 1], "bin_threshold must be ascending per feature");
    }
    require(std::isinf(row[cart::kMissingBin - 1]) && row[cart::kMissingBin - 1] > 0,
            "bin_threshold allows at most 254 finite thresholds per feature");
  }
}

// Bin bounds as encode_bins gives them: per feature, the bins holding values have finite
// low <= high and come in ascending order; empty bins are (+inf, -inf). Splits sit between them.
void require_bounds(const double* bounds, index_t n_features) {
  for (index_t f = 0; f < n_features; ++f) {
    const double* low = bounds + f * cart::kBins;
    const double* high = bounds + (n_features + f) * cart::kBins;
    double previous = -std::numeric_limits<double>::infinity();
    for (int b = 0; b < cart::kMissingBin; ++b) {
      if (std::isinf(low[b]) && low[b] > 0 && std::isinf(high[b]) && high[b] < 0) continue;
      require(std::isfinite(low[b]) && std::isfinite(high[b]) && low[b] <= high[b] &&
                  low[b] > previous,
              "bin_bounds must hold ascending (low, high) per bin, (+inf, -inf) when empty");
      previous = high[b];
    }
  }
}

template <class V>
py::array_t<V> to_array(const std::vector<V>& v) {
  py::array_t<V> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Params' fields can be set to anything from Python: they are checked against the data at
// entry.
template <class T>
void check_params(const cart::Params& p, const cart::Dataset<T>& d) {
  require(p.criterion >= cart::kGini && p.criterion <= cart::kAbsoluteError, "unknown criterion");
  const bool classification = p.criterion == cart::kGini || p.criterion == cart::kEntropy;
  require(classification == (d.n_classes != nullptr),
          classification ? "a classification criterion needs n_classes >= 1"
                         : "a regression criterion needs n_classes == 0");
  require(p.max_depth >= 1, "max_depth must be >= 1");
  require(p.min_samples_split >= 2, "min_samples_split must be >= 2");
  require(p.min_samples_leaf >= 1, "min_samples_leaf must be >= 1");
  require(p.max_features >= 1 && p.max_features <= d.n_features,
          "max_features must lie in [1, n_features]");
  require(p.max_leaf_nodes == 0 || p.max_leaf_nodes >= 2,
          "max_leaf_nodes must be 0 (no limit) or >= 2");
  require(!(p.surrogates && d.csc_indptr), "sparse X has no missing values: no surrogate splits");
  require(!(d.csc_codes && (p.random_splitter || p.criterion == cart::kAbsoluteError)),
          "the histogram search on sparse X takes neither the random splitter nor the absolute "
          "error");
  if (!p.monotonic_cst.empty()) {
    require(d.n_outputs == 1, "monotonic_cst needs a single output");
    require(static_cast<index_t>(p.monotonic_cst.size()) == d.n_features,
            "monotonic_cst has the wrong shape");
  }
}

// Params.monotonic_cst from Python: None, or int8 values of -1, 0 and 1 (one per feature,
// checked at entry).
void set_monotonic_cst(cart::Params& p, const py::object& cst) {
  if (cst.is_none()) {
    p.monotonic_cst.clear();
    return;
  }
  const py::array a = cst.cast<py::array>();
  require(a.ndim() == 1 && a.shape(0) >= 1, "monotonic_cst has the wrong shape");
  const std::int8_t* c = checked<std::int8_t>(a, "monotonic_cst", {a.shape(0)});
  for (index_t i = 0; i < a.shape(0); ++i)
    require(c[i] >= -1 && c[i] <= 1, "monotonic_cst must hold -1, 0 or 1");
  p.monotonic_cst.assign(c, c + a.shape(0));
}

py::object get_monotonic_cst(const cart::Params& p) {
  if (p.monotonic_cst.empty()) return py::none();
  return to_array(p.monotonic_cst);
}

// The training data: values (exact search) or codes + bin_bounds (histogram search). y is
// (n_rows) or (n_rows, n_outputs); n_classes an int (every output's class count, 0 for
// regression) or a sequence of one count per output, read into `classes`.
// Sparse X as CSC (csc: None or a tuple of indptr int64, indices int32, data T): every column's
// rows strictly ascending and in range, no NaN, as cart::Dataset's csc_* promise; and
// optionally the same matrix as CSR (csr: None or such a tuple; features in range, the same
// count of entries). Either data may be None (the histogram search keeps X's own format's
// data alone, see read_data), not both.
template <class T>
void read_csc(const py::object& csc, const py::object& csr, cart::Dataset<T>& d) {
  if (!csr.is_none()) {
    const py::tuple rows = csr.cast<py::tuple>();
    require(rows.size() == 3, "csr must be (indptr, indices, data)");
    const py::array indptr = rows[0].cast<py::array>(), indices = rows[1].cast<py::array>();
    require(indices.ndim() == 1, "csr indices must be 1-d");
    const index_t nnz = indices.shape(0);
    d.csr_indptr = checked<std::int64_t>(indptr, "csr indptr", {d.n_rows + 1});
    d.csr_indices = checked<std::int32_t>(indices, "csr indices", {nnz});
    if (!rows[2].is_none()) d.csr_data = checked<T>(rows[2].cast<py::array>(), "csr data", {nnz});
    require(d.csr_indptr[0] == 0 && d.csr_indptr[d.n_rows] == nnz,
            "csr indptr must run from 0 to nnz");
    for (index_t r = 0; r < d.n_rows; ++r)
      require(d.csr_indptr[r] <= d.csr_indptr[r + 1], "csr indptr must not decrease");
  }
  const py::tuple parts = csc.cast<py::tuple>();
  require(parts.size() == 3, "csc must be (indptr, indices, data)");
  const py::array indptr = parts[0].cast<py::array>(), indices = parts[1].cast<py::array>();
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1 && indices.ndim() == 1,
          "csc indptr and indices must be 1-d");
  d.n_features = indptr.shape(0) - 1;
  const index_t nnz = indices.shape(0);
  d.csc_indptr = checked<std::int64_t>(indptr, "csc indptr", {d.n_features + 1});
  d.csc_indices = checked<std::int32_t>(indices, "csc indices", {nnz});
  if (!parts[2].is_none()) d.csc_data = checked<T>(parts[2].cast<py::array>(), "csc data", {nnz});
  require(d.csc_data || d.csr_data, "csc or csr must hold the data");
  require(d.csc_indptr[0] == 0 && d.csc_indptr[d.n_features] == nnz,
          "csc indptr must run from 0 to nnz");
  require(!d.csr_indptr || d.csr_indptr[d.n_rows] == nnz, "csr and csc must hold as many entries");
  for (index_t k = 0; d.csr_indptr && k < nnz; ++k)
    require(d.csr_indices[k] >= 0 && d.csr_indices[k] < d.n_features &&
                !(d.csr_data && std::isnan(d.csr_data[k])),
            "csr indices must be features in range, its data without NaN");
  for (index_t f = 0; f < d.n_features; ++f) {
    const std::int64_t a = d.csc_indptr[f], b = d.csc_indptr[f + 1];
    require(a <= b, "csc indptr must not decrease");
    for (std::int64_t k = a; k < b; ++k) {
      require(d.csc_indices[k] >= 0 && d.csc_indices[k] < d.n_rows &&
                  (k == a || d.csc_indices[k] > d.csc_indices[k - 1]),
              "csc indices must be rows in range, strictly ascending in each column");
      require(!(d.csc_data && std::isnan(d.csc_data[k])), "csc data must not hold NaN");
    }
  }
}

// The histogram search's codes of sparse X (read after read_csc): a tuple (csc_codes (nnz),
// csr_codes (nnz) or None, zero_codes (n_features), bin_start (n_features + 1)) as
// encode_sparse_bins gives them; every code within its feature's bins.
template <class T>
void read_sparse_codes(const py::object& sparse_codes, cart::Dataset<T>& d) {
  const py::tuple parts = sparse_codes.cast<py::tuple>();
  require(parts.size() == 4, "sparse_codes must be (csc_codes, csr_codes, zero_codes, bin_start)");
  const index_t nnz = d.csc_indptr[d.n_features], F = d.n_features;
  d.csc_codes = checked<std::uint8_t>(parts[0].cast<py::array>(), "csc_codes", {nnz});
  if (!parts[1].is_none()) {
    require(d.csr_indptr != nullptr, "csr_codes need csr");
    d.csr_codes = checked<std::uint8_t>(parts[1].cast<py::array>(), "csr_codes", {nnz});
  }
  d.zero_codes = checked<std::uint8_t>(parts[2].cast<py::array>(), "zero_codes", {F});
  d.bin_start = checked<std::int64_t>(parts[3].cast<py::array>(), "bin_start", {F + 1});
  require(d.bin_start[0] == 0, "bin_start must start at 0");
  for (index_t f = 0; f < F; ++f)
    require(d.bin_start[f + 1] - d.bin_start[f] >= 1 &&
                d.bin_start[f + 1] - d.bin_start[f] <= cart::kMissingBin,
            "bin_start must give each feature 1 to 255 bins");
  const auto bins = [&](index_t f) { return d.bin_start[f + 1] - d.bin_start[f]; };
  bool ok = true;
  for (index_t f = 0; f < F; ++f) {
    ok = ok && d.zero_codes[f] < bins(f);
    for (std::int64_t k = d.csc_indptr[f]; k < d.csc_indptr[f + 1]; ++k)
      ok = ok && d.csc_codes[k] < bins(f);
  }
  for (index_t k = 0; d.csr_codes && k < nnz; ++k)
    ok = ok && d.csr_codes[k] < bins(d.csr_indices[k]);
  require(ok, "sparse codes must lie within their feature's bins");
}

template <class T>
cart::Dataset<T> read_data(const py::object& values, const py::object& codes,
                           const py::object& bin_bounds, const py::object& csc,
                           const py::object& csr, const py::object& sparse_codes,
                           const py::array& y, const py::array& sample_weight,
                           const py::object& n_classes, std::vector<int>& classes) {
  cart::Dataset<T> d{};
  require((y.ndim() == 1 || (y.ndim() == 2 && y.shape(1) > 0)) && y.shape(0) > 0,
          "y must be a non-empty array of shape (n_rows,) or (n_rows, n_outputs)");
  d.n_rows = y.shape(0);
  d.n_outputs = y.ndim() == 2 ? y.shape(1) : 1;
  require(d.n_rows < (index_t{1} << 31) - 1, "too many rows for 32-bit row indices");
  d.y = y.ndim() == 2 ? checked<double>(y, "y", {d.n_rows, d.n_outputs})
                      : checked<double>(y, "y", {d.n_rows});
  d.sample_weight = checked<double>(sample_weight, "sample_weight", {d.n_rows});
  if (py::isinstance<py::sequence>(n_classes))
    for (py::handle k : n_classes) classes.push_back(k.cast<int>());
  else
    classes.assign(d.n_outputs, n_classes.cast<int>());
  require(static_cast<index_t>(classes.size()) == d.n_outputs,
          "n_classes must hold one count per output");
  // The core adds the counts up in int and indexes its statistics with them.
  std::int64_t total_classes = 0;
  for (int k : classes) {
    require(k >= 0 && k <= d.n_rows, "n_classes must lie in [0, n_rows]");
    total_classes += k;
  }
  require(total_classes <= (std::int64_t{1} << 30), "too many classes over all outputs");
  const bool classification = classes[0] > 0;
  for (int k : classes)
    require((k > 0) == classification, "n_classes must be 0 for every output (regression) or "
                                       ">= 1 for every output (classification)");
  d.n_classes = classification ? classes.data() : nullptr;
  bool any_weight = false;
  for (index_t r = 0; r < d.n_rows; ++r) {
    const double w = d.sample_weight[r];
    require(std::isfinite(w) && w >= 0, "sample_weight must be finite and non-negative");
    any_weight = any_weight || w > 0;
    for (index_t o = 0; o < d.n_outputs; ++o) {
      const double v = d.y[r * d.n_outputs + o];
      if (classification)
        require(v >= 0 && v < classes[o] && v == std::floor(v), "y must hold class indices");
      else
        require(std::isfinite(v), "y must be finite");
    }
  }
  require(any_weight, "sample_weight must have a positive entry");
  if (!codes.is_none()) {
    py::array c = codes.cast<py::array>();
    require(c.ndim() == 2, "codes must be 2-d (n_rows, n_features)");
    d.n_features = c.shape(1);
    d.codes = checked<std::uint8_t>(c, "codes", {d.n_rows, d.n_features});
    py::array b = bin_bounds.cast<py::array>();
    d.bin_bounds = checked<double>(b, "bin_bounds", {2, d.n_features, cart::kBins});
    require_bounds(d.bin_bounds, d.n_features);
  } else if (!csc.is_none()) {
    read_csc(csc, csr, d);
    if (!sparse_codes.is_none()) read_sparse_codes(sparse_codes, d);
    // the exact search reads both formats' data; the histogram search one of them
    require((d.csc_data && (d.csr_data || !d.csr_indptr)) || d.csc_codes,
            "the exact search needs the data of csc and csr");
  } else {
    py::array v = values.cast<py::array>();
    require(v.ndim() == 2, "values must be 2-d (n_features, n_rows)");
    d.n_features = v.shape(0);
    d.values = checked<T>(v, "values", {d.n_features, d.n_rows});
  }
  require(d.n_features > 0, "there must be at least one feature");
  return d;
}


// The tree's arrays, moved into NumPy's (owned_array): copying every fully grown tree's ~10 MB
// cost the serial end of a forest's fit 2-3 ms a tree. A vector of spare capacity (a tree grown
// without linked subtrees, whose arrays grew by doubling) gives it back first, so that the
// arrays hold no more memory than copies.
py::dict to_dict(cart::Tree&& t, index_t n_outputs, index_t n_values) {
  const index_t n = t.n_nodes();
  // the tree's depth (Tree's max_depth): a node's id exceeds its parent's in the core's trees
  // (a child is added after its parent), so one pass in id order
  std::vector<std::int64_t> depth(n, 0);
  std::int64_t max_depth = 0;
  for (index_t i = 0; i < n; ++i)
    for (const std::int64_t child : {t.children_left[i], t.children_right[i]})
      if (child >= 0) {
        depth[child] = depth[i] + 1;
        max_depth = std::max(max_depth, depth[child]);
      }
  const auto owned = [](auto& v, std::vector<py::ssize_t> shape = {}) {
    v.shrink_to_fit();
    return owned_array(std::move(v), std::move(shape));
  };
  py::dict out;
  for (auto [name, ids] : {std::pair{"children_left", &t.children_left},
                           {"children_right", &t.children_right}, {"feature", &t.feature},
                           {"n_node_samples", &t.n_node_samples},
                           {"surrogate_ptr", &t.surrogate_ptr},
                           {"surrogate_feature", &t.surrogate_feature}})
    out[name] = owned(*ids);
  for (auto [name, values] : {std::pair{"threshold", &t.threshold}, {"impurity", &t.impurity},
                              {"weighted_n_node_samples", &t.weighted_n_node_samples},
                              {"surrogate_threshold", &t.surrogate_threshold}})
    out[name] = owned(*values);
  for (auto [name, flags] : {std::pair{"missing_go_to_left", &t.missing_go_to_left},
                             {"surrogate_reversed", &t.surrogate_reversed}})
    out[name] = owned(*flags);
  out["value"] = owned(t.value, {n, n_outputs, n_values});
  out["max_depth"] = max_depth;
  return out;
}

// value's last extent: the most classes of an output, or 1 for regression.
template <class T>
index_t values_per_output(const cart::Dataset<T>& d) {
  return d.n_classes ? *std::max_element(d.n_classes, d.n_classes + d.n_outputs) : 1;
}

// Dispatches on the dtype of values, or of sparse X's data (csc's, else csr's; float32 or
// float64); the dense histogram search has neither.
template <class F>
auto on_dtype(const py::object& values, const py::object& csc, const py::object& csr, F&& run) {
  py::object dense_or_data = values;
  if (values.is_none() && !csc.is_none()) {
    dense_or_data = csc.cast<py::tuple>()[2];
    if (dense_or_data.is_none() && !csr.is_none()) dense_or_data = csr.cast<py::tuple>()[2];
  }
  if (dense_or_data.is_none() || has_dtype<double>(dense_or_data.cast<py::array>()))
    return run(double{});
  require(has_dtype<float>(dense_or_data.cast<py::array>()), "values must be float32 or float64");
  return run(float{});
}

py::dict grow_tree(const py::array& y, const py::array& sample_weight,
                   const py::object& n_classes, const cart::Params& params, std::uint64_t seed,
                   int n_threads,
                   const py::object& values, const py::object& codes,
                   const py::object& bin_bounds, const py::object& csc,
                   const py::object& csr, const py::object& sparse_codes) {
  return on_dtype(values, csc, csr, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int> classes;
    const auto d =
        read_data<T>(values, codes, bin_bounds, csc, csr, sparse_codes, y, sample_weight,
                     n_classes, classes);
    check_params(params, d);
    require_threads(n_threads);
    cart::Tree tree;
    {
      py::gil_scoped_release release;
      tree = cart::build_tree(d, params, seed, n_threads);
    }
    return to_dict(std::move(tree), d.n_outputs, values_per_output(d));
  });
}

// The bootstrap's cumulative weights (see cart::Bootstrap), or nullptr for None: n_rows
// non-decreasing values from 0 to 1, held in keep.
const double* read_cdf(const py::object& cdf, index_t n_rows, py::array_t<double>& keep) {
  if (cdf.is_none()) return nullptr;
  keep = cdf.cast<py::array_t<double, py::array::c_style>>();
  const double* c = checked<double>(keep, "cdf", {n_rows});
  for (index_t i = 0; i < n_rows; ++i)
    require(c[i] >= (i ? c[i - 1] : 0.0) && c[i] <= 1.0, "cdf must rise from 0 to 1");
  require(c[n_rows - 1] == 1.0, "cdf must end at 1");
  return c;
}

py::list grow_forest(const py::array& y, const py::array& sample_weight,
                     const py::object& n_classes,
                     const cart::Params& params, const py::array& seeds, bool bootstrap,
                     index_t n_draws, bool balanced_subsample, const py::object& draw_cdf,
                     int n_threads,
                     const py::object& values, const py::object& codes,
                     const py::object& bin_bounds, const py::object& csc,
                   const py::object& csr, const py::object& sparse_codes) {
  return on_dtype(values, csc, csr, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int> classes;
    const auto d =
        read_data<T>(values, codes, bin_bounds, csc, csr, sparse_codes, y, sample_weight,
                     n_classes, classes);
    check_params(params, d);
    require(seeds.ndim() == 1, "seeds must be 1-d");
    const index_t n_trees = seeds.shape(0);
    const auto* s = checked<std::uint64_t>(seeds, "seeds", {n_trees});
    require(!bootstrap || n_draws >= 1, "n_draws must be >= 1");
    require_threads(n_threads);
    py::array_t<double> cdf_array;
    const double* cdf = read_cdf(draw_cdf, d.n_rows, cdf_array);
    const cart::Bootstrap b{bootstrap, n_draws, balanced_subsample, cdf};
    std::vector<cart::Tree> trees;
    {
      py::gil_scoped_release release;
      trees = cart::build_forest(d, params, b, s, n_trees, n_threads);
    }
    py::list out;
    for (cart::Tree& t : trees) {  // each tree freed once copied: one copy of the forest at most
      out.append(to_dict(std::move(t), d.n_outputs, values_per_output(d)));
      t = cart::Tree();
    }
    return out;
  });
}

py::array_t<std::int32_t> bootstrap_draws(std::uint64_t seed, index_t n_rows, index_t n_draws,
                                          const py::object& cdf) {
  require(n_rows >= 1 && n_draws >= 0, "n_rows must be >= 1 and n_draws >= 0");
  require(seed <= 0xFFFFFFFFu, "seed must be below 2**32, as numpy's RandomState seeds");
  py::array_t<double> cdf_array;
  const double* c = read_cdf(cdf, n_rows, cdf_array);
  py::array_t<std::int32_t> draws(n_draws);
  std::int32_t* out = draws.mutable_data();
  {
    py::gil_scoped_release release;
    cart::bootstrap_draws(seed, n_rows, n_draws, c, out);
  }
  return draws;
}

// Trees packed for the compiled walk (cart::PackedForest) from scikit-learn's node arrays laid
// end to end; dtypes and shapes are checked here, the indices a walk follows by the packing.
cart::PackedForest pack(const py::array& offsets, const py::array& left, const py::array& right,
                        const py::array& feature, const py::array& threshold,
                        const py::array& missing_left, const py::array& value,
                        index_t n_features, const py::object& surrogate_count,
                        const py::object& surrogate_feature,
                        const py::object& surrogate_threshold,
                        const py::object& surrogate_reversed, int n_threads) {
  require(offsets.ndim() == 1 && offsets.shape(0) >= 2, "offsets must hold n_trees + 1 entries");
  require_threads(n_threads);
  const index_t n_trees = offsets.shape(0) - 1;
  const std::int64_t* o = checked<std::int64_t>(offsets, "offsets", {n_trees + 1});
  const index_t n = left.ndim() == 1 ? left.shape(0) : -1;
  const auto* l = checked<std::int64_t>(left, "children_left", {n});
  const auto* r = checked<std::int64_t>(right, "children_right", {n});
  const auto* f = checked<std::int64_t>(feature, "feature", {n});
  const auto* t = checked<double>(threshold, "threshold", {n});
  const auto* m = checked<std::uint8_t>(missing_left, "missing_go_to_left", {n});
  require(value.ndim() == 2, "value must be 2-d (n_nodes, n_values)");
  cart::NodeArrays a{};
  a.n_values = value.shape(1);
  const auto* v = checked<double>(value, "value", {n, a.n_values});
  a.surrogates = !surrogate_count.is_none();
  require(a.surrogates == !surrogate_feature.is_none() &&
              a.surrogates == !surrogate_threshold.is_none() &&
              a.surrogates == !surrogate_reversed.is_none(),
          "surrogate_count, surrogate_feature, surrogate_threshold and surrogate_reversed "
          "come together");
  // named, so that arrays converted from other objects live while they are read
  py::array count_array, feature_array, threshold_array, reversed_array;
  const std::int64_t* count = nullptr;
  if (a.surrogates) {
    count_array = surrogate_count.cast<py::array>();
    feature_array = surrogate_feature.cast<py::array>();
    threshold_array = surrogate_threshold.cast<py::array>();
    reversed_array = surrogate_reversed.cast<py::array>();
    count = checked<std::int64_t>(count_array, "surrogate_count", {n});
    a.n_surrogates = feature_array.ndim() == 1 ? feature_array.shape(0) : -1;
    a.surrogate_feature =
        checked<std::int64_t>(feature_array, "surrogate_feature", {a.n_surrogates});
    a.surrogate_threshold =
        checked<double>(threshold_array, "surrogate_threshold", {a.n_surrogates});
    a.surrogate_reversed =
        checked<std::uint8_t>(reversed_array, "surrogate_reversed", {a.n_surrogates});
  }
  // every tree within the arrays before its view is formed (decreasing offsets read past them)
  require(o[0] == 0 && o[n_trees] == n, "offsets must span the nodes");
  for (index_t k = 0; k < n_trees; ++k)
    require(o[k] < o[k + 1] && o[k + 1] - o[k] < (std::int64_t{1} << 31),
            "every tree needs 1 to 2^31 nodes");
  a.trees.reserve(n_trees);
  for (index_t k = 0; k < n_trees; ++k) {
    const std::int64_t b = o[k];
    a.trees.push_back({o[k + 1] - b, l + b, r + b, f + b, t + b, m + b, v + b * a.n_values,
                       count ? count + b : nullptr});
  }
  py::gil_scoped_release release;  // the arrays stay referenced by the caller's arguments
  return cart::PackedForest(a, n_features, n_threads);
}

// Trees packed where they lie (see cart::NodeArrays): objects with scikit-learn's node arrays
// (fastml's Tree), value of shape (n_nodes, n_outputs, K), and surrogate_ptr and the surrogate
// arrays. Only the surrogate splits of a forest that has any are laid end to end.
cart::PackedForest pack_trees(const py::sequence& trees, index_t n_features, int n_threads) {
  const index_t n_trees = static_cast<index_t>(py::len(trees));
  require(n_trees >= 1, "trees must hold a tree");
  require_threads(n_threads);
  std::vector<py::array> keep;  // every array read, alive while it is packed
  const auto array = [&](const py::object& tree, const char* name) {
    keep.push_back(tree.attr(name).cast<py::array>());
    return keep.back();  // a second handle: keep's may move as it grows
  };
  cart::NodeArrays a{};
  a.trees.reserve(n_trees);
  std::vector<const std::int64_t*> surrogate_ptr(n_trees);
  for (index_t k = 0; k < n_trees; ++k) {
    const py::object tree = trees[k];
    const py::array left = array(tree, "children_left");
    const index_t n = left.ndim() == 1 ? left.shape(0) : -1;
    const py::array value = array(tree, "value");
    require(value.ndim() == 3, "value must be 3-d (n_nodes, n_outputs, K)");
    const index_t n_values = value.shape(1) * value.shape(2);
    require(k == 0 || n_values == a.n_values, "the trees' values must have one shape");
    a.n_values = n_values;
    a.trees.push_back({n, checked<std::int64_t>(left, "children_left", {n}),
                       checked<std::int64_t>(array(tree, "children_right"), "children_right", {n}),
                       checked<std::int64_t>(array(tree, "feature"), "feature", {n}),
                       checked<double>(array(tree, "threshold"), "threshold", {n}),
                       checked<std::uint8_t>(array(tree, "missing_go_to_left"),
                                             "missing_go_to_left", {n}),
                       checked<double>(value, "value", {n, value.shape(1), value.shape(2)}),
                       nullptr});
    surrogate_ptr[k] = checked<std::int64_t>(array(tree, "surrogate_ptr"), "surrogate_ptr",
                                             {n + 1});
    require(surrogate_ptr[k][0] == 0, "surrogate_ptr must start at 0");
    a.surrogates = a.surrogates || surrogate_ptr[k][n] != 0;
  }
  // a forest grown with surrogates: each tree's counts, and its surrogates appended
  std::vector<std::vector<std::int64_t>> counts;
  std::vector<std::int64_t> s_feature;
  std::vector<double> s_threshold;
  std::vector<std::uint8_t> s_reversed;
  if (a.surrogates) {
    counts.resize(n_trees);
    for (index_t k = 0; k < n_trees; ++k) {
      const py::object tree = trees[k];
      const std::int64_t* ptr = surrogate_ptr[k];
      const index_t n = a.trees[k].n_nodes, n_surrogates = ptr[n];
      counts[k].resize(n);
      for (index_t i = 0; i < n; ++i) counts[k][i] = ptr[i + 1] - ptr[i];
      a.trees[k].surrogate_count = counts[k].data();
      const auto* feature = checked<std::int64_t>(array(tree, "surrogate_feature"),
                                                  "surrogate_feature", {n_surrogates});
      const auto* threshold = checked<double>(array(tree, "surrogate_threshold"),
                                              "surrogate_threshold", {n_surrogates});
      const auto* reversed = checked<std::uint8_t>(array(tree, "surrogate_reversed"),
                                                   "surrogate_reversed", {n_surrogates});
      s_feature.insert(s_feature.end(), feature, feature + n_surrogates);
      s_threshold.insert(s_threshold.end(), threshold, threshold + n_surrogates);
      s_reversed.insert(s_reversed.end(), reversed, reversed + n_surrogates);
    }
    a.n_surrogates = static_cast<index_t>(s_feature.size());
    a.surrogate_feature = s_feature.data();
    a.surrogate_threshold = s_threshold.data();
    a.surrogate_reversed = s_reversed.data();
  }
  py::gil_scoped_release release;  // keep holds the arrays
  return cart::PackedForest(a, n_features, n_threads);
}

// The leaves reached (n_rows, n_trees), int64, or with mean set the leaf values averaged over
// the trees (n_rows, n_values), float64. Called with the GIL held (the float32 records are
// derived on first use), released for the walk.
template <class T>
py::array walk_as(cart::PackedForest& packed, const py::array& X, int n_threads, bool mean) {
  require(X.ndim() == 2, "X must be 2-d");
  const index_t n = X.shape(0), d = X.shape(1);
  const T* x = checked<T>(X, "X", {n, d});
  require(d == packed.n_features(), "X has " + std::to_string(d) +
                                        " features; the trees were fitted on " +
                                        std::to_string(packed.n_features()));
  require_threads(n_threads);
  const cart::Forest<T> f = packed.forest<T>();
  if (mean) {
    py::array_t<double> out({n, packed.n_values()});
    double* o = out.mutable_data();
    py::gil_scoped_release release;
    cart::predict_mean(f, x, n, d, o, n_threads);
    return std::move(out);
  }
  py::array_t<std::int64_t> out({n, packed.n_trees()});
  std::int64_t* o = out.mutable_data();
  py::gil_scoped_release release;
  cart::apply(f, x, n, d, o, n_threads);
  return std::move(out);
}

// walk_as for CSR X (indptr int64, indices int32, data T; see cart::predict_mean_csr).
template <class T>
py::array walk_csr_as(cart::PackedForest& packed, const py::array& indptr,
                      const py::array& indices, const py::array& data, int n_threads, bool mean) {
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1 && indices.ndim() == 1,
          "indptr and indices must be 1-d");
  const index_t n = indptr.shape(0) - 1, d = packed.n_features(), nnz = indices.shape(0);
  const std::int64_t* p = checked<std::int64_t>(indptr, "indptr", {n + 1});
  const std::int32_t* idx = checked<std::int32_t>(indices, "indices", {nnz});
  const T* x = checked<T>(data, "data", {nnz});
  require(p[0] == 0 && p[n] == nnz, "indptr must run from 0 to nnz");
  for (index_t i = 0; i < n; ++i) require(p[i] <= p[i + 1], "indptr must not decrease");
  for (index_t k = 0; k < nnz; ++k)
    require(idx[k] >= 0 && idx[k] < d, "indices must be features in range");
  require_threads(n_threads);
  const cart::Forest<T> f = packed.forest<T>();
  const cart::CsrRows<T> rows{p, idx, x, n, d};
  if (mean) {
    py::array_t<double> out({n, packed.n_values()});
    double* o = out.mutable_data();
    py::gil_scoped_release release;
    cart::predict_mean_csr(f, rows, o, n_threads);
    return std::move(out);
  }
  py::array_t<std::int64_t> out({n, packed.n_trees()});
  std::int64_t* o = out.mutable_data();
  py::gil_scoped_release release;
  cart::apply_csr(f, rows, o, n_threads);
  return std::move(out);
}

py::array walk_csr(cart::PackedForest& packed, const py::array& indptr, const py::array& indices,
                   const py::array& data, int n_threads, bool mean) {
  if (has_dtype<float>(data))
    return walk_csr_as<float>(packed, indptr, indices, data, n_threads, mean);
  require(has_dtype<double>(data), "data must be float32 or float64");
  return walk_csr_as<double>(packed, indptr, indices, data, n_threads, mean);
}

py::array walk(cart::PackedForest& packed, const py::array& X, int n_threads, bool mean) {
  if (has_dtype<float>(X)) return walk_as<float>(packed, X, n_threads, mean);
  require(has_dtype<double>(X), "X must be float32 or float64");
  return walk_as<double>(packed, X, n_threads, mean);
}

template <class T>
py::tuple encode_bins(const py::array& X, const py::array& bin_threshold, int n_threads,
                      bool with_bounds, const py::object& columns) {
  require(X.ndim() == 2, "X must be 2-d");
  const index_t n = X.shape(0), d = X.shape(1);
  const T* x = checked<T>(X, "X", {n, d});
  const double* t = checked<double>(bin_threshold, "bin_threshold", {d, cart::kBins});
  require_thresholds(t, d);
  require_threads(n_threads);
  std::uint8_t* column_codes = nullptr;
  if (!columns.is_none()) {
    py::array out = columns.cast<py::array>();
    require(!with_bounds, "columns are given with the codes alone (bounds=False)");
    require(py::isinstance<py::array_t<std::uint8_t>>(out) && out.ndim() == 2 &&
                out.shape(0) == n && out.shape(1) == d && (out.flags() & py::array::f_style) &&
                out.writeable(),
            "columns must be a writeable Fortran-ordered uint8 array of X's shape");
    column_codes = static_cast<std::uint8_t*>(out.mutable_data());
  }
  py::array_t<std::uint8_t> codes({n, d});
  py::object bounds = py::none();
  double* b = nullptr;
  if (with_bounds) {
    py::array_t<double> array({index_t{2}, d, index_t{cart::kBins}});
    b = array.mutable_data();
    bounds = array;
  }
  std::uint8_t* c = codes.mutable_data();
  {
    py::gil_scoped_release release;
    cart::encode_bins(x, n, d, t, c, b, n_threads, column_codes);
  }
  return py::make_tuple(codes, bounds);
}

// The booster's thresholds of dense X (see cart::dense_bin_thresholds) for the given features:
// (thresholds, counts), the other features' rows +inf and counts 0.
template <class T>
py::tuple dense_bin_thresholds(const py::array& X, const py::array& features, int max_bins,
                               const py::array& quantiles, int n_threads) {
  require(X.ndim() == 2, "X must be 2-d");
  const index_t n = X.shape(0), d = X.shape(1);
  const T* x = checked<T>(X, "X", {n, d});
  require(features.ndim() == 1, "features must be 1-d");
  const index_t n_chosen = features.shape(0);
  const std::int64_t* f = checked<std::int64_t>(features, "features", {n_chosen});
  for (index_t c = 0; c < n_chosen; ++c)
    require(f[c] >= 0 && f[c] < d, "features must lie in [0, n_features)");
  require(max_bins >= 2 && max_bins <= cart::kMissingBin, "max_bins must lie in [2, 255]");
  const double* q = checked<double>(quantiles, "quantiles", {index_t{max_bins} - 1});
  require_threads(n_threads);
  py::array_t<double> thresholds({d, index_t{cart::kBins}});
  py::array_t<std::int64_t> counts(d);
  double* t = thresholds.mutable_data();
  std::int64_t* k = counts.mutable_data();
  {
    py::gil_scoped_release release;
    std::fill(t, t + d * cart::kBins, std::numeric_limits<double>::infinity());
    std::fill(k, k + d, 0);
    cart::dense_bin_thresholds(x, n, d, f, n_chosen, max_bins, q, t, k, n_threads);
  }
  return py::make_tuple(thresholds, counts);
}
template <class T> struct DenseBinThresholds { template <class... A> static auto run(A&&... a) { return dense_bin_thresholds<T>(std::forward<A>(a)...); } };

// Sparse X's codes for the histogram search (see cart::sparse_bins): csc and csr as read_csc
// takes them (csr may be None), sample None or (its rows, its csc): the rows whose values place
// the thresholds. Returns (csc_codes, csr_codes or None, zero_codes, bin_start).
template <class T>
py::tuple sparse_bins_as(index_t n_rows, const py::object& csc, const py::object& csr,
                         int max_bins, const py::object& sample, int n_threads) {
  cart::Dataset<T> d{}, s{};
  d.n_rows = n_rows;
  require(n_rows >= 1 && n_rows < (index_t{1} << 31) - 1, "n_rows must lie in [1, 2**31 - 1)");
  require(max_bins >= 2 && max_bins <= cart::kMissingBin, "max_bins must lie in [2, 255]");
  read_csc(csc, csr, d);
  require(d.csc_data != nullptr, "csc data is needed");
  if (!sample.is_none()) {
    const py::tuple parts = sample.cast<py::tuple>();
    require(parts.size() == 2, "sample must be (n_rows, csc)");
    s.n_rows = parts[0].cast<index_t>();
    require(s.n_rows >= 1 && s.n_rows <= n_rows, "the sample's rows must lie in [1, n_rows]");
    read_csc(parts[1], py::none(), s);
    require(s.csc_data != nullptr && s.n_features == d.n_features,
            "the sample must hold data and as many features as csc");
  }
  const index_t F = d.n_features, nnz = d.csc_indptr[F];
  py::array_t<std::uint8_t> csc_codes(nnz), zero_codes(F);
  py::object csr_codes = py::none();
  std::uint8_t* csr_out = nullptr;
  if (d.csr_indptr) {
    py::array_t<std::uint8_t> a(nnz);
    csr_out = a.mutable_data();
    csr_codes = a;
  }
  py::array_t<std::int64_t> bin_start(F + 1);
  {
    py::gil_scoped_release release;
    cart::sparse_bins(d.csc_indptr, d.csc_indices, d.csc_data, n_rows, F, d.csr_indptr,
                      s.csc_indptr, s.csc_data, s.n_rows, max_bins, csc_codes.mutable_data(),
                      csr_out, zero_codes.mutable_data(), bin_start.mutable_data(), n_threads);
  }
  return py::make_tuple(csc_codes, csr_codes, zero_codes, bin_start);
}

py::tuple sparse_bins(index_t n_rows, const py::object& csc, const py::object& csr, int max_bins,
                      const py::object& sample, int n_threads) {
  const py::object data = csc.cast<py::tuple>()[2];
  require(!data.is_none(), "csc data is needed");
  if (has_dtype<float>(data.cast<py::array>()))
    return sparse_bins_as<float>(n_rows, csc, csr, max_bins, sample, n_threads);
  require(has_dtype<double>(data.cast<py::array>()), "data must be float32 or float64");
  return sparse_bins_as<double>(n_rows, csc, csr, max_bins, sample, n_threads);
}

// The bin thresholds of sparse X (see cart::sparse_bin_thresholds), csc as read_csc takes it.
// Returns (offsets, thresholds).
template <class T>
py::tuple sparse_bin_thresholds_as(index_t n_rows, const py::object& csc, int max_bins) {
  cart::Dataset<T> d{};
  d.n_rows = n_rows;
  require(n_rows >= 1 && n_rows < (index_t{1} << 31) - 1, "n_rows must lie in [1, 2**31 - 1)");
  require(max_bins >= 2 && max_bins <= cart::kMissingBin, "max_bins must lie in [2, 255]");
  read_csc(csc, py::none(), d);
  require(d.csc_data != nullptr, "csc data is needed");
  py::array_t<std::int64_t> offsets(d.n_features + 1);
  // a feature has fewer thresholds than stored values (its runs less one, the zeros' run
  // included) and fewer than max_bins: room for the least of the two bounds, returned as a view
  // of its first m values (no copy)
  const index_t room = std::min<index_t>(d.csc_indptr[d.n_features],
                                         d.n_features * static_cast<index_t>(max_bins - 1));
  py::array_t<double> values(room);
  index_t m = 0;
  {
    py::gil_scoped_release release;
    m = cart::sparse_bin_thresholds(d.csc_indptr, d.csc_data, n_rows, d.n_features, max_bins,
                                    offsets.mutable_data(), values.mutable_data());
  }
  return py::make_tuple(offsets, values[py::slice(0, m, 1)]);
}

py::tuple sparse_bin_thresholds(index_t n_rows, const py::object& csc, int max_bins) {
  const py::array data = csc.cast<py::tuple>()[2].cast<py::array>();
  if (has_dtype<float>(data)) return sparse_bin_thresholds_as<float>(n_rows, csc, max_bins);
  require(has_dtype<double>(data), "data must be float32 or float64");
  return sparse_bin_thresholds_as<double>(n_rows, csc, max_bins);
}

// The same entry point for float32 and float64 X, chosen by X's dtype.
template <template <class> class Entry, class... A>
auto by_dtype(const py::array& X, A&&... args) {
  if (has_dtype<float>(X)) return Entry<float>::run(X, std::forward<A>(args)...);
  require(has_dtype<double>(X), "X must be float32 or float64");
  return Entry<double>::run(X, std::forward<A>(args)...);
}
template <class T> struct EncodeBins { template <class... A> static auto run(A&&... a) { return encode_bins<T>(std::forward<A>(a)...); } };

}  // namespace

PYBIND11_MODULE(_cart, m) {
  m.doc() = "CART tree and forest growth, prediction and binning (C++, OpenMP).";
  fastml::start_openmp_threads();
  m.attr("N_BINS") = cart::kBins;
  m.attr("MISSING_BIN") = cart::kMissingBin;
  m.attr("MAX_SURROGATES") = cart::kMaxSurrogates;
  py::enum_<cart::Criterion>(m, "Criterion",
                             "The split criteria, by scikit-learn's names (its log_loss is "
                             "entropy).")
      .value("gini", cart::kGini)
      .value("entropy", cart::kEntropy)
      .value("squared_error", cart::kSquaredError)
      .value("friedman_mse", cart::kFriedmanMSE)
      .value("poisson", cart::kPoisson)
      .value("absolute_error", cart::kAbsoluteError);
  py::class_<cart::Params>(
      m, "Params",
      "The growth parameters of a tree (cart::Params), resolved from scikit-learn's: counts\n"
      "and weights are absolute; max_depth as large as you like is no limit, max_leaf_nodes 0\n"
      "is none; monotonic_cst is None or int8 -1/0/1 per feature (single output). Checked\n"
      "against the data when a tree is grown.")
      .def(py::init([](cart::Criterion criterion, index_t max_features, bool random_splitter,
                       index_t max_depth, index_t min_samples_split, index_t min_samples_leaf,
                       double min_weight_leaf, index_t max_leaf_nodes,
                       double min_impurity_decrease, const py::object& monotonic_cst,
                       bool surrogates) {
             cart::Params p{criterion,       random_splitter, max_depth,
                            min_samples_split, min_samples_leaf, min_weight_leaf,
                            max_features,    max_leaf_nodes,  min_impurity_decrease,
                            {},              surrogates};
             set_monotonic_cst(p, monotonic_cst);
             return p;
           }),
           py::kw_only(), py::arg("criterion"), py::arg("max_features"),
           py::arg("random_splitter") = false,
           py::arg("max_depth") = std::numeric_limits<index_t>::max(),
           py::arg("min_samples_split") = 2, py::arg("min_samples_leaf") = 1,
           py::arg("min_weight_leaf") = 0.0, py::arg("max_leaf_nodes") = 0,
           py::arg("min_impurity_decrease") = 0.0, py::arg("monotonic_cst") = py::none(),
           py::arg("surrogates") = false)
      .def_readwrite("criterion", &cart::Params::criterion)
      .def_readwrite("random_splitter", &cart::Params::random_splitter,
                     "one random threshold per feature (scikit-learn's splitter='random')")
      .def_readwrite("max_depth", &cart::Params::max_depth)
      .def_readwrite("min_samples_split", &cart::Params::min_samples_split)
      .def_readwrite("min_samples_leaf", &cart::Params::min_samples_leaf)
      .def_readwrite("min_weight_leaf", &cart::Params::min_weight_leaf, "absolute weight")
      .def_readwrite("max_features", &cart::Params::max_features,
                     "features drawn per node (more while all drawn are constant)")
      .def_readwrite("max_leaf_nodes", &cart::Params::max_leaf_nodes,
                     "0: depth first without a leaf limit; else best first")
      .def_readwrite("min_impurity_decrease", &cart::Params::min_impurity_decrease)
      .def_property("monotonic_cst", &get_monotonic_cst, &set_monotonic_cst)
      .def_readwrite("surrogates", &cart::Params::surrogates,
                     "missing values follow surrogate splits");
  m.def("grow_tree", &grow_tree, py::arg("y"), py::arg("sample_weight"), py::arg("n_classes"),
        py::arg("params"), py::arg("seed"), py::arg("n_threads"), py::arg("values") = py::none(),
        py::arg("codes") = py::none(), py::arg("bin_bounds") = py::none(),
        py::arg("csc") = py::none(), py::arg("csr") = py::none(),
        py::arg("sparse_codes") = py::none(),
        "Grow one tree; returns its node arrays. y is (n_rows,) or (n_rows, n_outputs); n_classes\n"
        "an int (every output's classes, 0 for regression) or one count per output.");
  m.def("grow_forest", &grow_forest, py::arg("y"), py::arg("sample_weight"), py::arg("n_classes"),
        py::arg("params"), py::arg("seeds"), py::arg("bootstrap"), py::arg("n_draws"),
        py::arg("balanced_subsample"), py::arg("draw_cdf"), py::arg("n_threads"),
        py::arg("values") = py::none(),
        py::arg("codes") = py::none(), py::arg("bin_bounds") = py::none(),
        py::arg("csc") = py::none(), py::arg("csr") = py::none(),
        py::arg("sparse_codes") = py::none(),
        "Grow one tree per seed in parallel, as scikit-learn's of random_state seed; returns a\n"
        "list of node-array dicts.");
  m.def("bootstrap_draws", &bootstrap_draws, py::arg("seed"), py::arg("n_rows"),
        py::arg("n_draws"), py::arg("cdf") = py::none(),
        "The rows drawn, in draw order, by the bootstrap of a tree's seed, as scikit-learn's:\n"
        "uniformly, or by the cumulative normalised weights cdf.");
  py::class_<cart::PackedForest>(m, "PackedForest",
                                 "Fitted trees packed once for compiled prediction.")
      .def(py::init(&pack),
           py::arg("offsets"), py::arg("children_left"), py::arg("children_right"),
           py::arg("feature"), py::arg("threshold"), py::arg("missing_go_to_left"),
           py::arg("value"), py::arg("n_features"), py::arg("surrogate_count") = py::none(),
           py::arg("surrogate_feature") = py::none(), py::arg("surrogate_threshold") = py::none(),
           py::arg("surrogate_reversed") = py::none(), py::arg("n_threads") = 1,
           "Pack trees laid end to end: offsets holds n_trees + 1 node offsets, child ids are\n"
           "local to their tree, value is (n_nodes, n_values). Surrogate splits: a count per\n"
           "node (0 at leaves) and each node's surrogates in turn (feature, threshold, reversed).\n"
           "n_threads threads pack the trees, each tree on one.")
      .def_static("from_trees", &pack_trees, py::arg("trees"), py::arg("n_features"),
                  py::arg("n_threads") = 1,
                  "Pack a sequence of fastml Tree objects, read where they lie (no copy end to\n"
                  "end); the same forest as packing their arrays laid end to end.")
      .def("apply",
           [](cart::PackedForest& f, const py::array& X, int n_threads) {
             return walk(f, X, n_threads, false);
           },
           py::arg("X"), py::arg("n_threads"),
           "The leaf (local id) of every row in every tree, (n_rows, n_trees).")
      .def("predict_mean",
           [](cart::PackedForest& f, const py::array& X, int n_threads) {
             return walk(f, X, n_threads, true);
           },
           py::arg("X"), py::arg("n_threads"),
           "The leaf values averaged over the trees, (n_rows, n_values).")
      .def("apply_csr",
           [](cart::PackedForest& f, const py::array& indptr, const py::array& indices,
              const py::array& data, int n_threads) {
             return walk_csr(f, indptr, indices, data, n_threads, false);
           },
           py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_threads"),
           "apply for CSR X (indptr int64, indices int32, data float32 or float64).")
      .def("predict_mean_csr",
           [](cart::PackedForest& f, const py::array& indptr, const py::array& indices,
              const py::array& data, int n_threads) {
             return walk_csr(f, indptr, indices, data, n_threads, true);
           },
           py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_threads"),
           "predict_mean for CSR X.");
  m.def("encode_bins",
        [](const py::array& X, const py::array& bin_threshold, int n_threads, bool bounds,
           const py::object& columns) {
          return by_dtype<EncodeBins>(X, bin_threshold, n_threads, bounds, columns);
        },
        py::arg("X"), py::arg("bin_threshold"), py::arg("n_threads"), py::arg("bounds") = true,
        py::arg("columns") = py::none(),
        "Bin codes (n_rows, n_features) of X (the number of thresholds below each value, 255 for\n"
        "NaN) and bin_bounds (2, n_features, 256): the smallest and largest value in each bin\n"
        "(None where bounds is False). OUT columns (with bounds=False; or None): the same codes,\n"
        "Fortran-ordered uint8.");
  m.def("dense_bin_thresholds",
        [](const py::array& X, const py::array& features, int max_bins,
           const py::array& quantiles, int n_threads) {
          return by_dtype<DenseBinThresholds>(X, features, max_bins, quantiles, n_threads);
        },
        py::arg("X"), py::arg("features"), py::arg("max_bins"), py::arg("quantiles"),
        py::arg("n_threads"),
        "The booster's bin thresholds of the given columns of dense X: (thresholds\n"
        "(n_features, 256) +inf padded, counts (n_features), -1 where one came out NaN), the\n"
        "other features' rows +inf and counts 0: scikit-learn's _find_binning_thresholds\n"
        "without weights, quantiles being np.linspace(0, 100, max_bins + 1)[1:-1] / 100.");
  m.def("simd_build", &cart::simd_target,
        "Instruction-set build of encode_bins's codes-only kernels chosen for this CPU.");
  m.def("sparse_bins", &sparse_bins, py::arg("n_rows"), py::arg("csc"), py::arg("csr"),
        py::arg("max_bins"), py::arg("sample") = py::none(), py::arg("n_threads") = 1,
        "Sparse X's bins for the histogram search: (csc_codes, csr_codes, zero_codes,\n"
        "bin_start), the bins of the stored CSC and CSR entries and of 0.0 per feature (csr may\n"
        "be None, then csr_codes is), feature f holding bin_start[f + 1] - bin_start[f] bins,\n"
        "its thresholds those of sparse_bin_thresholds over sample (n_rows, csc) or csc; the\n"
        "columns binned on n_threads threads.");
  m.def("sparse_bin_thresholds", &sparse_bin_thresholds, py::arg("n_rows"), py::arg("csc"),
        py::arg("max_bins"),
        "Bin thresholds of sparse X as (offsets, thresholds), feature f's at\n"
        "thresholds[offsets[f]:offsets[f + 1]]: those fastml.tree._binning.bin_thresholds gives\n"
        "X densified, from the CSC columns' stored values.");
}
