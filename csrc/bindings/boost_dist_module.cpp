// fastml.dask._boost_dist_fast: the two steps of the booster's grower that fastml.dask's
// distributed HistGradientBoosting* runs apart: a node's histograms over one partition's rows (on
// the workers) and the split search over histograms summed across partitions (on the client).
// Both are csrc/boost's own code (histogram.hpp, split_search.hpp), so that a split is chosen
// with the single-machine grower's arithmetic; the grower itself is not touched.
//
// A histogram crosses Python as an (n_features, N_BINS) array of HIST_DTYPE records
// {g: float64, h: float64, count: uint64}, the layout of the core's Bin.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "../boost/feature_draw.hpp"
#include "../boost/split_search.hpp"
#include "boost_binding_checks.hpp"
#include "fastml/binding_checks.hpp"
#include "fastml/boost.hpp"

namespace py = pybind11;
namespace boost = fastml::boost;
using boost::index_t;
using boost::detail::Bin;
using boost::detail::HistogramPool;
using fastml::bindings::checked;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;

namespace {

static_assert(sizeof(Bin) == 24, "Bin must be {double, double, uint64}");

// A histogram array: (F, N_BINS) records of 24 bytes, C-contiguous.
Bin* hist_data(const py::array& hist, index_t F, bool writeable) {
  require(hist.ndim() == 2 && hist.shape(0) == F && hist.shape(1) == boost::kBins &&
              hist.itemsize() == static_cast<py::ssize_t>(sizeof(Bin)) &&
              (hist.flags() & py::array::c_style),
          "hist must be a C-contiguous (n_features, N_BINS) array of HIST_DTYPE");
  require(!writeable || hist.writeable(), "hist must be writeable");
  return static_cast<Bin*>(const_cast<void*>(hist.data()));
}

std::vector<std::int32_t> all_features(index_t F) {
  std::vector<std::int32_t> f(static_cast<std::size_t>(F));
  std::iota(f.begin(), f.end(), 0);
  return f;
}

// OUT hist: every feature's histogram of the given rows (increasing, so that each bin sums its
// rows in row order, as the single-machine grower's do) from codes (column-major uint8) and gh.
void node_histogram(const py::array& codes, const py::array& gh, const py::array& rows,
                    bool constant_hessian, py::array& hist, int n_threads) {
  require(codes.ndim() == 2 && py::isinstance<py::array_t<std::uint8_t>>(codes) &&
              (codes.flags() & py::array::f_style),
          "codes must be a Fortran-ordered (column-major) uint8 2-d array");
  require(rows.ndim() == 1, "rows must be 1-d");
  require_threads(n_threads);
  const index_t n = codes.shape(0), F = codes.shape(1), m = rows.shape(0);
  const float* g = checked<float>(gh, "gh", {n, 2});
  const std::int32_t* r = checked<std::int32_t>(rows, "rows", {m});
  for (index_t i = 0; i < m; ++i)
    require(r[i] >= 0 && r[i] < n && (i == 0 || r[i - 1] < r[i]), "rows must increase within [0, n_rows)");
  Bin* out = hist_data(hist, F, true);
  boost::Data data{n, F, boost::kBins, static_cast<const std::uint8_t*>(codes.data()), nullptr,
                   nullptr};
  py::gil_scoped_release release;
  HistogramPool pool(F);
  const int h = pool.acquire();
  std::vector<boost::GradHess> ordered(static_cast<std::size_t>(m));
  const auto features = all_features(F);
  const auto* pairs = reinterpret_cast<const boost::GradHess*>(g);
  if (constant_hessian)
    boost::detail::build_histogram<true>(pool, h, data, pairs, r, m, features, ordered.data(), n_threads);
  else
    boost::detail::build_histogram<false>(pool, h, data, pairs, r, m, features, ordered.data(), n_threads);
  std::memcpy(out, pool.of(h, 0), sizeof(Bin) * static_cast<std::size_t>(F) * boost::kBins);
}

// The best split of a node from its summed histograms, as the grower's search_and_push.
py::dict best_split(const py::array& hist, index_t n, double sum_g, double sum_h, double value,
                    double lower, double upper, const py::array& features,
                    const py::array& n_bins_non_missing, const py::array& has_missing,
                    index_t min_samples_leaf, double l2_regularization,
                    double min_hessian_to_split, bool constant_hessian,
                    const py::object& monotonic_cst, const py::object& is_categorical) {
  const index_t F = hist.ndim() == 2 ? hist.shape(0) : -1;
  const Bin* H = hist_data(hist, F, false);
  require(features.ndim() == 1 && features.shape(0) >= 1, "features must be 1-d, non-empty");
  const std::int32_t* fp = checked<std::int32_t>(features, "features", {features.shape(0)});
  std::vector<std::int32_t> feats(fp, fp + features.shape(0));
  for (const std::int32_t f : feats) require(f >= 0 && f < F, "features out of range");
  require(min_samples_leaf >= 1 && l2_regularization >= 0 && min_hessian_to_split >= 0 && n >= 1,
          "bad node or growth parameters");
  boost::Data data{n, F, boost::kBins, nullptr,
                   checked<std::uint16_t>(n_bins_non_missing, "n_bins_non_missing", {F}),
                   checked<std::uint8_t>(has_missing, "has_missing", {F})};
  for (index_t f = 0; f < F; ++f)
    require(data.n_bins_non_missing[f] >= 1 && data.n_bins_non_missing[f] < boost::kBins,
            "n_bins_non_missing must lie in [1, N_BINS)");
  boost::GrowParams p{0, 0, min_samples_leaf, l2_regularization, min_hessian_to_split, 1.0,
                      constant_hessian, {}, {}, 1.0, 0};
  fastml::bindings::set_feature_constraints(monotonic_cst, is_categorical, F, p, data);
  boost::detail::Split s;
  {
    py::gil_scoped_release release;
    HistogramPool pool(F);
    const int h = pool.acquire();
    std::memcpy(pool.of(h, 0), H, sizeof(Bin) * static_cast<std::size_t>(F) * boost::kBins);
    const boost::detail::SplitSearch search(data, p);
    const boost::detail::NodeStats stats{n, sum_g, sum_h, value, lower, upper};
    s = constant_hessian ? search.best<true>(pool, h, stats, feats)
                         : search.best<false>(pool, h, stats, feats);
  }
  py::dict out;
  out["gain"] = s.gain;
  out["feature"] = s.feature;
  out["bin"] = s.bin;
  out["missing_left"] = s.missing_left;
  out["g_left"] = s.g_left;
  out["h_left"] = s.h_left;
  out["g_right"] = s.g_right;
  out["h_right"] = s.h_right;
  out["n_left"] = s.n_left;
  out["n_right"] = s.n_right;
  out["value_left"] = s.value_left;
  out["value_right"] = s.value_right;
  out["categorical"] = s.categorical;
  py::array_t<std::uint32_t> left_cat(boost::kBitsetWords);  // zeros for a numerical split
  std::fill_n(left_cat.mutable_data(), boost::kBitsetWords, 0u);
  std::copy(s.left_cat.begin(), s.left_cat.end(), left_cat.mutable_data());
  out["left_cat"] = left_cat;
  return out;
}

// The next node's features under max_features < 1 (the grower's draw, see feature_draw.hpp).
py::array_t<std::int32_t> draw_features(boost::detail::FeatureDraw& draw, const py::array& allowed) {
  require(allowed.ndim() == 1 && allowed.shape(0) >= 1, "allowed must be 1-d, non-empty");
  const std::int32_t* a = checked<std::int32_t>(allowed, "allowed", {allowed.shape(0)});
  // under the GIL: the draw advances the object's random stream (O(features) work)
  const std::vector<std::int32_t> out = draw(std::vector<std::int32_t>(a, a + allowed.shape(0)));
  return py::array_t<std::int32_t>(static_cast<py::ssize_t>(out.size()), out.data());
}

}  // namespace

PYBIND11_MODULE(_boost_dist_fast, m) {
  m.doc() = "The booster's histogram pass and split search, apart (C++, OpenMP).";
  m.attr("N_BINS") = boost::kBins;
  m.def("node_histogram", &node_histogram, py::arg("codes"), py::arg("gh"), py::arg("rows"),
        py::arg("constant_hessian"), py::arg("hist"), py::arg("n_threads"),
        "OUT hist (n_features, N_BINS) HIST_DTYPE: the histograms of rows (int32, increasing) "
        "over codes (n_rows, n_features) uint8 column-major, from gh (n_rows, 2) float32; "
        "with constant_hessian the h sums are left 0 (the counts stand for them).");
  m.def("best_split", &best_split, py::arg("hist"), py::arg("n"), py::arg("sum_g"),
        py::arg("sum_h"), py::arg("value"), py::arg("lower"), py::arg("upper"),
        py::arg("features"), py::arg("n_bins_non_missing"), py::arg("has_missing"),
        py::arg("min_samples_leaf"), py::arg("l2_regularization"),
        py::arg("min_hessian_to_split"), py::arg("constant_hessian"), py::arg("monotonic_cst"),
        py::arg("is_categorical") = py::none(),
        "The best split (a dict; gain -1 for none) of a node of n rows and sums sum_g, sum_h, "
        "value bounded by [lower, upper], over the given features of hist. Features flagged in "
        "is_categorical (uint8, or None) are searched as categories; such a split has "
        "categorical True and left_cat (8 uint32: the bin codes sent left, the missing bin's "
        "bit among them).");
  py::class_<boost::detail::FeatureDraw>(
      m, "FeatureDraw",
      "One tree's stream of feature draws under max_features < 1, the grower's: called once per "
      "searched node, in the grower's order, it returns the node's features to search.")
      .def(py::init([](double fraction, std::uint64_t seed) {
             require(fraction > 0 && fraction <= 1, "fraction must lie in (0, 1]");
             return boost::detail::FeatureDraw(fraction, seed);
           }),
           py::arg("fraction"), py::arg("seed"))
      .def("__call__", &draw_features, py::arg("allowed"),
           "max(1, ceil(fraction * len(allowed))) of allowed (int32, 1-d), drawn, in their order.");
}
