// fastml._cd_fast: the elastic-net coordinate descent of csrc/linear for float32 and float64.
// Every array must already have the solver's dtype and layout (fastml.linear_model converts them
// once); none is converted here, so w, which the solver updates in place, is never a temporary
// copy. Shapes and scalars are checked before the GIL is released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <tuple>
#include <vector>

#include "../linear/cd.hpp"
#include "fastml/binding_checks.hpp"
#include "fastml/openmp_helpers.h"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_csr;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::linear::CdOptions;
using fastml::linear::CdResult;
using fastml::linear::DenseX;
using fastml::linear::index_t;
using fastml::linear::Path;

namespace {

template <class T>
using Vec = py::array_t<T, py::array::c_style>;

CdOptions options(double alpha, double beta, std::int64_t max_iter, double tol, std::uint32_t seed,
                  bool random, bool positive, bool screening, bool working_sets, int n_threads) {
  require(std::isfinite(alpha) && alpha >= 0, "alpha must be finite and >= 0");
  require(std::isfinite(beta) && beta >= 0, "beta must be finite and >= 0");
  require(max_iter >= 0, "max_iter must be >= 0");
  require(std::isfinite(tol) && tol >= 0, "tol must be finite and >= 0");
  require_threads(n_threads);
  CdOptions opt;
  opt.alpha = alpha;
  opt.beta = beta;
  opt.max_iter = max_iter;
  opt.tol = tol;
  opt.seed = seed;
  opt.random = random;
  opt.positive = positive;
  opt.screening = screening;
  opt.working_sets = working_sets;
  opt.n_threads = n_threads;
  return opt;
}

using Results = std::tuple<py::array_t<double>, py::array_t<double>, py::array_t<std::int64_t>,
                           py::array_t<bool>>;

// Checks the path's arrays against d coefficients; returns its view.
template <class T>
Path path_of(const Vec<double>& alphas, const Vec<double>& betas, const Vec<std::uint32_t>& seeds,
             const Vec<T>& w, const Vec<T>& coefs, index_t d) {
  require(alphas.ndim() == 1, "alphas must be 1-dimensional");
  const index_t k = alphas.shape(0);
  require_shape(betas, "betas", {k});
  require_shape(seeds, "seeds", {k});
  require_shape(w, "w", {d});
  require_shape(coefs, "coefs", {k, d});
  require(w.writeable() && coefs.writeable(), "w and coefs must be writeable");
  for (index_t a = 0; a < k; ++a)
    require(std::isfinite(alphas.data()[a]) && alphas.data()[a] >= 0 &&
                std::isfinite(betas.data()[a]) && betas.data()[a] >= 0,
            "alphas and betas must be finite and >= 0");
  return Path{k, alphas.data(), betas.data(), seeds.data()};
}

Results results_of(const std::vector<CdResult>& r) {
  const auto k = static_cast<py::ssize_t>(r.size());
  py::array_t<double> gaps(k), tols(k);
  py::array_t<std::int64_t> iters(k);
  py::array_t<bool> converged(k);
  for (py::ssize_t a = 0; a < k; ++a) {
    gaps.mutable_data()[a] = r[a].gap;
    tols.mutable_data()[a] = r[a].tol;
    iters.mutable_data()[a] = r[a].n_iter;
    converged.mutable_data()[a] = r[a].converged;
  }
  return {gaps, tols, iters, converged};
}

// BLAS from scipy.linalg.cython_blas (the library scipy and NumPy link), looked up once.
const fastml::linear::Gemm& blas() {
  static const fastml::linear::Gemm gemm = [] {
    fastml::linear::Gemm g;
    py::dict capi = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
    g.dgemm = reinterpret_cast<fastml::linear::DgemmFn>(
        PyCapsule_GetPointer(capi["dgemm"].ptr(), PyCapsule_GetName(capi["dgemm"].ptr())));
    g.sgemm = reinterpret_cast<fastml::linear::SgemmFn>(
        PyCapsule_GetPointer(capi["sgemm"].ptr(), PyCapsule_GetName(capi["sgemm"].ptr())));
    if (!g.dgemm || !g.sgemm) throw py::error_already_set();
    return g;
  }();
  return gemm;
}

template <class T>
Results path_dense(Vec<T> w, Vec<T> coefs, const Vec<double>& alphas, const Vec<double>& betas,
                   const Vec<std::uint32_t>& seeds, const py::array_t<T>& X,
                   const std::optional<Vec<T>>& X_mean, const std::optional<Vec<T>>& X_scale,
                   const Vec<T>& y, std::int64_t max_iter, double tol, bool random, bool positive,
                   bool screening, bool working_sets, bool gram_columns, int n_threads) {
  CdOptions opt = options(0, 0, max_iter, tol, 1, random, positive, screening, working_sets,
                          n_threads);
  opt.gram_columns = gram_columns;
  if (gram_columns) opt.gemm = &blas();
  require(X.ndim() == 2, "X must be 2-dimensional");
  const bool c_order = (X.flags() & py::array::c_style) != 0;
  require(c_order || (X.flags() & py::array::f_style) != 0, "X must be C- or F-contiguous");
  const index_t n = X.shape(0), d = X.shape(1);
  require(n >= 1 && d >= 1, "X must have at least one sample and one feature");
  require_shape(y, "y", {n});
  if (X_mean) require_shape(*X_mean, "X_mean", {d});
  if (X_scale) require_shape(*X_scale, "X_scale", {n});
  const Path path = path_of<T>(alphas, betas, seeds, w, coefs, d);
  const DenseX<T> view{X.data(), n, d, c_order, X_mean ? X_mean->data() : nullptr,
                       X_scale ? X_scale->data() : nullptr};
  std::vector<CdResult> r(static_cast<std::size_t>(path.n_alphas));
  T* wp = w.mutable_data();
  T* cp = coefs.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::linear::enet_path_dense<T>(view, y.data(), path, wp, cp, r.data(), opt);
  }
  return results_of(r);
}

template <class T>
Results path_sparse(Vec<T> w, Vec<T> coefs, const Vec<double>& alphas, const Vec<double>& betas,
                    const Vec<std::uint32_t>& seeds, const Vec<T>& data,
                    const Vec<std::int32_t>& indices, const Vec<std::int32_t>& indptr,
                    index_t n_samples, const std::optional<Vec<T>>& X_mean,
                    const std::optional<Vec<T>>& sample_weight, const Vec<T>& y,
                    std::int64_t max_iter, double tol, bool random, bool positive,
                    bool screening, bool working_sets, int n_threads) {
  const CdOptions opt = options(0, 0, max_iter, tol, 1, random, positive, screening, working_sets,
                                n_threads);
  // CSC: a compressed column per feature, its row indices in [0, n_samples)
  const index_t d = require_csr(indptr, indices, n_samples, &data), n = n_samples;
  require(d >= 1, "X must have at least one feature");
  require(n >= 1, "X must have at least one sample");
  const std::int32_t* ptr = indptr.data();
  const std::int32_t* idx = indices.data();
  require_shape(y, "y", {n});
  if (X_mean) require_shape(*X_mean, "X_mean", {d});
  if (sample_weight) require_shape(*sample_weight, "sample_weight", {n});
  const Path path = path_of<T>(alphas, betas, seeds, w, coefs, d);
  const fastml::linear::SparseX<T> view{data.data(), idx, ptr, n, d,
                                        X_mean ? X_mean->data() : nullptr,
                                        sample_weight ? sample_weight->data() : nullptr};
  std::vector<CdResult> r(static_cast<std::size_t>(path.n_alphas));
  T* wp = w.mutable_data();
  T* cp = coefs.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::linear::enet_path_sparse<T>(view, y.data(), path, wp, cp, r.data(), opt);
  }
  return results_of(r);
}

template <class T>
Results path_gram(Vec<T> w, Vec<T> coefs, const Vec<double>& alphas, const Vec<double>& betas,
                  const Vec<std::uint32_t>& seeds, const Vec<T>& Q, const Vec<T>& q, double y_norm2,
                  std::int64_t max_iter, double tol, bool random, bool positive, bool screening,
                  bool working_sets, int n_threads) {
  const CdOptions opt = options(0, 0, max_iter, tol, 1, random, positive, screening, working_sets,
                                n_threads);
  require(Q.ndim() == 2 && Q.shape(0) == Q.shape(1) && Q.shape(0) >= 1,
          "Q must be a non-empty square matrix");
  const index_t d = Q.shape(0);
  require_shape(q, "q", {d});
  require(std::isfinite(y_norm2) && y_norm2 >= 0, "y_norm2 must be finite and >= 0");
  const Path path = path_of<T>(alphas, betas, seeds, w, coefs, d);
  std::vector<CdResult> r(static_cast<std::size_t>(path.n_alphas));
  T* wp = w.mutable_data();
  T* cp = coefs.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::linear::enet_path_gram<T>(Q.data(), q.data(), y_norm2, d, path, wp, cp, r.data(), opt);
  }
  return results_of(r);
}

template <class T>
Results path_multitask(Vec<T> W, Vec<T> coefs, const Vec<double>& alphas,
                       const Vec<double>& betas, const Vec<std::uint32_t>& seeds,
                       const py::array_t<T>& X, const std::optional<Vec<T>>& X_mean,
                       const std::optional<Vec<T>>& X_scale, const Vec<T>& Y,
                       std::int64_t max_iter, double tol, bool random, bool screening,
                       bool working_sets, int n_threads) {
  const CdOptions opt = options(0, 0, max_iter, tol, 1, random, false, screening, working_sets,
                                n_threads);
  require(X.ndim() == 2 && Y.ndim() == 2, "X and Y must be 2-dimensional");
  const bool c_order = (X.flags() & py::array::c_style) != 0;
  require(c_order || (X.flags() & py::array::f_style) != 0, "X must be C- or F-contiguous");
  const index_t n = X.shape(0), d = X.shape(1), k = Y.shape(1);
  require(n >= 1 && d >= 1 && k >= 1, "X and Y must be non-empty");
  require_shape(Y, "Y", {n, k});
  if (X_mean) require_shape(*X_mean, "X_mean", {d});
  if (X_scale) require_shape(*X_scale, "X_scale", {n});
  require(alphas.ndim() == 1, "alphas must be 1-dimensional");
  require_shape(W, "W", {k, d});
  require_shape(coefs, "coefs", {alphas.shape(0), k, d});
  // path_of checks the path's scalars against the flattened coefficients.
  const Path path = path_of<T>(alphas, betas, seeds, W.reshape({k * d}),
                               coefs.reshape({alphas.shape(0), k * d}), k * d);
  const DenseX<T> view{X.data(), n, d, c_order, X_mean ? X_mean->data() : nullptr,
                       X_scale ? X_scale->data() : nullptr};
  std::vector<CdResult> r(static_cast<std::size_t>(path.n_alphas));
  T* wp = W.mutable_data();
  T* cp = coefs.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::linear::enet_path_multitask<T>(view, Y.data(), k, path, wp, cp, r.data(), opt);
  }
  return results_of(r);
}

// A cross-validation's block Gram columns (BlockColumns) held between its folds' paths: X, the
// centre and the weights are kept referenced here, the columns computed by one path serve the next.
// One path at a time (a lock: the columns are shared).
template <class T>
class BlockStore {
 public:
  BlockStore(const py::array_t<T>& X, const Vec<std::int64_t>& starts,
             const std::optional<Vec<T>>& mean, const std::optional<Vec<double>>& weights)
      : X_(X), mean_(mean), weights_(weights) {
    require(X.ndim() == 2, "X must be 2-dimensional");
    const bool c_order = (X.flags() & py::array::c_style) != 0;
    require(c_order || (X.flags() & py::array::f_style) != 0, "X must be C- or F-contiguous");
    const index_t n = X.shape(0), d = X.shape(1);
    require(n >= 1 && d >= 1, "X must have at least one sample and one feature");
    require(starts.ndim() == 1 && starts.shape(0) >= 2, "starts must hold n_blocks + 1 offsets");
    const index_t nb = starts.shape(0) - 1;
    require(starts.data()[0] == 0 && starts.data()[nb] == n, "starts must run from 0 to n_samples");
    for (index_t b = 0; b < nb; ++b)
      require(starts.data()[b] <= starts.data()[b + 1], "starts must be non-decreasing");
    if (mean) require_shape(*mean, "mean", {d});
    if (weights) require_shape(*weights, "weights", {n});
    cols_.X = DenseX<T>{X.data(), n, d, c_order, mean ? mean->data() : nullptr, nullptr};
    cols_.v = weights ? weights->data() : nullptr;
    cols_.starts.assign(starts.data(), starts.data() + nb + 1);
    cols_.gemm = &blas();
    cols_.n_threads = 1;
    cols_.S.resize(static_cast<std::size_t>(d));
  }

  Results path(std::int64_t skip, double c, double W, const Vec<double>& delta,
               const Vec<double>& q, const Vec<double>& norms, double yy, Vec<T> w, Vec<T> coefs,
               const Vec<double>& alphas, const Vec<double>& betas,
               const Vec<std::uint32_t>& seeds, std::int64_t max_iter, double tol, bool random,
               bool positive, bool screening, bool working_sets, int n_threads) {
    const CdOptions opt = options(0, 0, max_iter, tol, 1, random, positive, screening,
                                  working_sets, n_threads);
    const index_t d = cols_.X.d;
    require(skip < static_cast<std::int64_t>(cols_.starts.size()) - 1, "skip must be < n_blocks");
    require(std::isfinite(c) && c > 0 && std::isfinite(W) && W > 0, "c and W must be > 0");
    require(std::isfinite(yy) && yy >= 0, "yy must be finite and >= 0");
    require_shape(delta, "delta", {d});
    require_shape(q, "q", {d});
    require_shape(norms, "norms", {d});
    const Path p = path_of<T>(alphas, betas, seeds, w, coefs, d);
    const fastml::linear::Fold fold{skip < 0 ? -1 : static_cast<index_t>(skip), c, W,
                                    delta.data(), q.data(), norms.data(), yy};
    std::vector<CdResult> r(static_cast<std::size_t>(p.n_alphas));
    T* wp = w.mutable_data();
    T* cp = coefs.mutable_data();
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      cols_.n_threads = n_threads;
      fastml::linear::enet_path_blocks<T>(cols_, fold, p, wp, cp, r.data(), opt);
    }
    return results_of(r);
  }

 private:
  py::array_t<T> X_;
  std::optional<Vec<T>> mean_;
  std::optional<Vec<double>> weights_;
  fastml::linear::BlockColumns<T> cols_;
  std::mutex mutex_;
};

template <class T>
void define(py::module_& m) {
  m.def("enet_path_dense", &path_dense<T>,
        "Elastic-net coordinate descent along a path on dense X (C or F order), whose column j "
        "is (X[:, j] - X_mean[j]) * X_scale. w IN first warm start, OUT last solution; coefs OUT "
        "(n_alphas, d). Returns (gaps, tols, n_iters, converged), unscaled as scikit-learn's "
        "cd_fast.",
        py::arg("w").noconvert(), py::arg("coefs").noconvert(), py::arg("alphas").noconvert(),
        py::arg("betas").noconvert(), py::arg("seeds").noconvert(), py::arg("X").noconvert(),
        py::arg("X_mean").noconvert(), py::arg("X_scale").noconvert(), py::arg("y").noconvert(),
        py::arg("max_iter"), py::arg("tol"), py::arg("random"), py::arg("positive"),
        py::arg("screening"), py::arg("working_sets"), py::arg("gram_columns"),
        py::arg("n_threads"));
  m.def("enet_path_sparse", &path_sparse<T>,
        "Elastic-net coordinate descent along a path on CSC X (data, int32 indices and indptr) "
        "whose column j is (X[:, j] - X_mean[j]) * sqrt(sample_weight), never densified; "
        "arguments and results as enet_path_dense.",
        py::arg("w").noconvert(), py::arg("coefs").noconvert(), py::arg("alphas").noconvert(),
        py::arg("betas").noconvert(), py::arg("seeds").noconvert(), py::arg("data").noconvert(),
        py::arg("indices").noconvert(), py::arg("indptr").noconvert(), py::arg("n_samples"),
        py::arg("X_mean").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("y").noconvert(), py::arg("max_iter"), py::arg("tol"), py::arg("random"),
        py::arg("positive"), py::arg("screening"), py::arg("working_sets"),
        py::arg("n_threads"));
  m.def("enet_path_gram", &path_gram<T>,
        "Elastic-net coordinate descent along a path on Q = X'X (C order), q = X'y, y_norm2 = "
        "y'y; arguments and results as enet_path_dense.",
        py::arg("w").noconvert(), py::arg("coefs").noconvert(), py::arg("alphas").noconvert(),
        py::arg("betas").noconvert(), py::arg("seeds").noconvert(), py::arg("Q").noconvert(),
        py::arg("q").noconvert(), py::arg("y_norm2"), py::arg("max_iter"), py::arg("tol"),
        py::arg("random"), py::arg("positive"), py::arg("screening"), py::arg("working_sets"),
        py::arg("n_threads"));
  m.def("enet_path_multitask", &path_multitask<T>,
        "Multi-task elastic-net block coordinate descent along a path on dense X (C or F order) "
        "whose column j is (X[:, j] - X_mean[j]) * X_scale, and Y (n, k) in C order, already "
        "centred and weighted. W (k, d) IN first warm start, OUT last solution; coefs OUT "
        "(n_alphas, k, d). Returns (gaps, tols, n_iters, converged), unscaled as scikit-learn's "
        "cd_fast.",
        py::arg("W").noconvert(), py::arg("coefs").noconvert(), py::arg("alphas").noconvert(),
        py::arg("betas").noconvert(), py::arg("seeds").noconvert(), py::arg("X").noconvert(),
        py::arg("X_mean").noconvert(), py::arg("X_scale").noconvert(),
        py::arg("Y").noconvert(), py::arg("max_iter"), py::arg("tol"), py::arg("random"),
        py::arg("screening"), py::arg("working_sets"), py::arg("n_threads"));
  const std::string name = std::is_same_v<T, float> ? "BlockColumns32" : "BlockColumns64";
  py::class_<BlockStore<T>>(m, name.c_str(),
                            "The Gram columns of a cross-validation's row blocks, computed on "
                            "demand and shared by its folds' paths.")
      .def(py::init<const py::array_t<T>&, const Vec<std::int64_t>&,
                    const std::optional<Vec<T>>&, const std::optional<Vec<double>>&>(),
           py::arg("X").noconvert(), py::arg("starts").noconvert(), py::arg("mean").noconvert(),
           py::arg("weights").noconvert())
      .def("path", &BlockStore<T>::path,
           "Elastic-net coordinate descent along a path on the fold whose Gram matrix is "
           "c (sum of the blocks but `skip` - W delta delta'), q its X'y, norms its diagonal, yy "
           "its y'y (skip < 0: every block); the rest as enet_path_dense.",
           py::arg("skip"), py::arg("c"), py::arg("W"), py::arg("delta").noconvert(),
           py::arg("q").noconvert(), py::arg("norms").noconvert(), py::arg("yy"),
           py::arg("w").noconvert(), py::arg("coefs").noconvert(), py::arg("alphas").noconvert(),
           py::arg("betas").noconvert(), py::arg("seeds").noconvert(), py::arg("max_iter"),
           py::arg("tol"), py::arg("random"), py::arg("positive"), py::arg("screening"),
           py::arg("working_sets"), py::arg("n_threads"));
}

}  // namespace

PYBIND11_MODULE(_cd_fast, m) {
  m.doc() = "Elastic-net coordinate descent with gap-safe screening and working sets (C++).";
  define<float>(m);
  define<double>(m);
}
