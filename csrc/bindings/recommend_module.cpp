// fastml.recommend._mf_fast: the matrix factorization and top-k cores of csrc/recommend for
// float32 and float64 arrays. Checks every shape and index at entry (the cores trust them), then
// releases the GIL. Arrays must already be C-contiguous and of one dtype, indices int64
// (fastml.recommend._kernels_cpu converts them once per fit): no argument is converted, so an
// output array can never be a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/recommend.hpp"

namespace py = pybind11;
using fastml::bindings::CsrSpan;
using fastml::bindings::require;
using fastml::bindings::require_csr;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::recommend::index_t;
using fastml::recommend::Rows;
using fastml::recommend::Triplets;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;
using Ids = In<std::int64_t>;

// Outputs written while inputs are read must not share memory with them.
void require_disjoint(const py::array& a, const py::array& b, const char* message) {
  const auto* a0 = static_cast<const char*>(a.data());
  const auto* b0 = static_cast<const char*>(b.data());
  require(a0 + a.nbytes() <= b0 || b0 + b.nbytes() <= a0 || a.nbytes() == 0 || b.nbytes() == 0,
          message);
}

void require_ids(const std::int64_t* ids, index_t n, index_t bound, const char* message) {
  for (index_t j = 0; j < n; ++j) require(ids[j] >= 0 && ids[j] < bound, message);
}

// A range of a CSR matrix's rows (the users or items one sweep solves): offsets within indices.
template <class T>
Rows<T> csr_rows(const Ids& indptr, const Ids& indices, const In<T>& values, index_t n_cols) {
  const index_t n_rows = require_csr(indptr, indices, n_cols, nullptr, CsrSpan::rows);
  require_shape(values, "values", {indices.shape(0)});
  return Rows<T>{indptr.data(), indices.data(), values.data(), n_rows};
}

index_t factors(const py::array& A, const char* message) {
  require(A.ndim() == 2 && A.shape(1) >= 1, message);
  return A.shape(1);
}

double* optional_loss(std::optional<In<double>>& row_loss, index_t n_rows) {
  if (!row_loss || row_loss->size() == 0) return nullptr;  // None or empty: no loss
  require_shape(*row_loss, "row_loss", {n_rows});
  return row_loss->mutable_data();
}

template <class T>
index_t implicit_sweep(const Ids& indptr, const Ids& indices, const In<T>& confidence, In<T> X,
                       const In<T>& Y, const In<T>& gram_reg, int cg_steps,
                       std::optional<In<double>> row_loss, int n_threads) {
  const index_t k = factors(X, "X must have shape (n_rows, n_factors)");
  require(Y.ndim() == 2 && Y.shape(1) == k, "Y must have shape (n_cols, n_factors)");
  require_shape(gram_reg, "gram_reg", {k, k});
  const Rows<T> rows = csr_rows(indptr, indices, confidence, Y.shape(0));
  require(X.shape(0) == rows.n_rows, "X must have one row per row of the matrix");
  require(cg_steps >= 0, "cg_steps must be >= 0");
  require_threads(n_threads);
  require_disjoint(X, Y, "X and Y must not share memory");
  double* loss = optional_loss(row_loss, rows.n_rows);
  T* x = X.mutable_data();
  py::gil_scoped_release release;
  return fastml::recommend::implicit_sweep(rows, x, Y.data(), k, gram_reg.data(), cg_steps, loss,
                                           n_threads);
}

template <class T>
py::array_t<T> gram(const In<T>& A, double regularization, int n_threads) {
  const index_t k = factors(A, "A must have shape (n_rows, n_factors)");
  require_threads(n_threads);
  py::array_t<T> out({k, k});
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::recommend::gram(A.data(), A.shape(0), k, regularization, o, n_threads);
  }
  return out;
}

template <class T>
index_t explicit_sweep(const Ids& indptr, const Ids& indices, const In<T>& ratings,
                       const In<T>& Y, const In<T>& col_bias, double global_mean,
                       double regularization, bool biases, In<T> X, In<T> row_bias,
                       std::optional<In<double>> row_loss, int n_threads) {
  const index_t k = factors(X, "X must have shape (n_rows, n_factors)");
  require(Y.ndim() == 2 && Y.shape(1) == k, "Y must have shape (n_cols, n_factors)");
  const Rows<T> rows = csr_rows(indptr, indices, ratings, Y.shape(0));
  require(X.shape(0) == rows.n_rows, "X must have one row per row of the matrix");
  require_shape(col_bias, "col_bias", {Y.shape(0)});
  require_shape(row_bias, "row_bias", {rows.n_rows});
  require_threads(n_threads);
  require_disjoint(X, Y, "X and Y must not share memory");
  require_disjoint(row_bias, col_bias, "row_bias and col_bias must not share memory");
  double* loss = optional_loss(row_loss, rows.n_rows);
  T* x = X.mutable_data();
  T* rb = row_bias.mutable_data();
  py::gil_scoped_release release;
  return fastml::recommend::explicit_sweep(rows, Y.data(), k, col_bias.data(), global_mean,
                                           regularization, biases, x, rb, loss, n_threads);
}

// Triplets with users < n_users and items < n_items.
template <class T>
Triplets<T> triplets(const Ids& users, const Ids& items, const In<T>& ratings, index_t n_users,
                     index_t n_items) {
  require(ratings.ndim() == 1, "ratings must be 1-dimensional");
  require_shape(users, "users", {ratings.shape(0)});
  require_shape(items, "items", {ratings.shape(0)});
  require_ids(users.data(), ratings.shape(0), n_users, "users must lie in [0, n_users)");
  require_ids(items.data(), ratings.shape(0), n_items, "items must lie in [0, n_items)");
  return Triplets<T>{users.data(), items.data(), ratings.data(), ratings.shape(0)};
}

template <class T>
void sgd_epoch(const Ids& users, const Ids& items, const In<T>& ratings, const Ids& order,
               const Ids& starts, index_t n_blocks, In<T> X, In<T> Y, In<T> user_bias,
               In<T> item_bias, double global_mean, double learning_rate, double regularization,
               bool biases, int n_threads) {
  const index_t k = factors(X, "X must have shape (n_users, n_factors)");
  require(Y.ndim() == 2 && Y.shape(1) == k, "Y must have shape (n_items, n_factors)");
  const Triplets<T> r = triplets(users, items, ratings, X.shape(0), Y.shape(0));
  require_shape(user_bias, "user_bias", {X.shape(0)});
  require_shape(item_bias, "item_bias", {Y.shape(0)});
  require(n_blocks >= 1, "n_blocks must be >= 1");
  require_shape(starts, "starts", {n_blocks * n_blocks + 1});
  require(order.ndim() == 1, "order must be 1-dimensional");
  const std::int64_t* s = starts.data();
  require(s[0] >= 0 && s[n_blocks * n_blocks] <= order.shape(0), "starts must lie within order");
  // Buckets that run at once must touch disjoint users and items (else threads would race):
  // bucket (stratum, block) holds users u % n_blocks == block, items
  // i % n_blocks == (block + stratum) % n_blocks, as sgd_epoch_order makes them.
  for (index_t bucket = 0; bucket < n_blocks * n_blocks; ++bucket) {
    require(s[bucket] <= s[bucket + 1], "starts must not decrease");
    const index_t stratum = bucket / n_blocks, block = bucket % n_blocks;
    for (std::int64_t j = s[bucket]; j < s[bucket + 1]; ++j) {
      const std::int64_t index = order.data()[j];
      require(index >= 0 && index < r.n, "order must lie in [0, n_ratings)");
      require(r.users[index] % n_blocks == block &&
                  r.items[index] % n_blocks == (block + stratum) % n_blocks,
              "order must group the ratings into the buckets of sgd_epoch_order");
    }
  }
  require_threads(n_threads);
  require_disjoint(X, Y, "X and Y must not share memory");
  require_disjoint(user_bias, item_bias, "user_bias and item_bias must not share memory");
  T* x = X.mutable_data();
  T* y = Y.mutable_data();
  T* ub = user_bias.mutable_data();
  T* ib = item_bias.mutable_data();
  py::gil_scoped_release release;
  fastml::recommend::sgd_epoch(r, order.data(), s, n_blocks, x, y, k, ub, ib, global_mean,
                               learning_rate, regularization, biases, n_threads);
}

template <class T>
void explicit_errors(const Ids& users, const Ids& items, const In<T>& ratings, const In<T>& X,
                     const In<T>& Y, const In<T>& user_bias, const In<T>& item_bias,
                     double global_mean, In<double> out, int n_threads) {
  const index_t k = factors(X, "X must have shape (n_users, n_factors)");
  require(Y.ndim() == 2 && Y.shape(1) == k, "Y must have shape (n_items, n_factors)");
  const Triplets<T> r = triplets(users, items, ratings, X.shape(0), Y.shape(0));
  require_shape(user_bias, "user_bias", {X.shape(0)});
  require_shape(item_bias, "item_bias", {Y.shape(0)});
  require_shape(out, "out", {r.n});
  require_threads(n_threads);
  double* o = out.mutable_data();
  py::gil_scoped_release release;
  fastml::recommend::explicit_errors(r, X.data(), Y.data(), k, user_bias.data(),
                                     item_bias.data(), global_mean, o, n_threads);
}

template <class T>
void top_k(In<T> scores, const Ids& seen_indptr, const Ids& seen_indices, Ids items_out,
           In<T> scores_out, int n_threads) {
  require(scores.ndim() == 2, "scores must be 2-dimensional");
  const index_t n_rows = scores.shape(0), n_items = scores.shape(1);
  require_shape(seen_indptr, "seen_indptr", {n_rows + 1});
  require(items_out.ndim() == 2 && items_out.shape(0) == n_rows,
          "items_out must have shape (n_rows, k)");
  const index_t k = items_out.shape(1);
  require_shape(scores_out, "scores_out", {n_rows, k});
  require(seen_indices.ndim() == 1, "seen_indices must be 1-dimensional");
  // The rows of a range of users: offsets within seen_indices.
  require_csr(seen_indptr, seen_indices, n_items, nullptr, CsrSpan::rows);
  require_threads(n_threads);
  require_disjoint(scores, scores_out, "scores and scores_out must not share memory");
  require_disjoint(scores, items_out, "scores and items_out must not share memory");
  require_disjoint(items_out, scores_out, "items_out and scores_out must not share memory");
  T* s = scores.mutable_data();
  std::int64_t* it = items_out.mutable_data();
  T* best = scores_out.mutable_data();
  py::gil_scoped_release release;
  fastml::recommend::top_k(s, n_rows, n_items, seen_indptr.data(), seen_indices.data(), k, it,
                           best, n_threads);
}

template <class T>
void define_for(py::module_& m) {
  m.def("implicit_sweep", &implicit_sweep<T>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("confidence").noconvert(),
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("gram_reg").noconvert(),
        py::arg("cg_steps"), py::arg("row_loss").noconvert() = py::none(), py::arg("n_threads"),
        "Solve every row of X in place against Y (implicit ALS: cg_steps of conjugate gradient,\n"
        "or 0 for the exact solve); row_loss (None or empty: skipped) gets each row's loss.\n"
        "Returns the number of rows with singular exact equations.");
  m.def("gram", &gram<T>, py::arg("A").noconvert(), py::arg("regularization"),
        py::arg("n_threads"), "A^T A + regularization I, summed in a fixed order.");
  m.def("explicit_sweep", &explicit_sweep<T>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("ratings").noconvert(), py::arg("Y").noconvert(),
        py::arg("col_bias").noconvert(), py::arg("global_mean"), py::arg("regularization"),
        py::arg("biases"), py::arg("X").noconvert(), py::arg("row_bias").noconvert(),
        py::arg("row_loss").noconvert() = py::none(), py::arg("n_threads"),
        "Solve every row's factors (and bias) exactly against Y (explicit ALS); returns the\n"
        "number of rows with singular equations.");
  m.def("sgd_epoch", &sgd_epoch<T>, py::arg("users").noconvert(), py::arg("items").noconvert(),
        py::arg("ratings").noconvert(), py::arg("order").noconvert(),
        py::arg("starts").noconvert(), py::arg("n_blocks"), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("user_bias").noconvert(),
        py::arg("item_bias").noconvert(), py::arg("global_mean"), py::arg("learning_rate"),
        py::arg("regularization"), py::arg("biases"), py::arg("n_threads"),
        "One SGD epoch in place, bucket by bucket (see sgd_epoch_order).");
  m.def("explicit_errors", &explicit_errors<T>, py::arg("users").noconvert(),
        py::arg("items").noconvert(), py::arg("ratings").noconvert(), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("user_bias").noconvert(),
        py::arg("item_bias").noconvert(), py::arg("global_mean"), py::arg("out").noconvert(),
        py::arg("n_threads"), "out[j] = squared error of rating j (float64).");
  m.def("top_k", &top_k<T>, py::arg("scores").noconvert(), py::arg("seen_indptr").noconvert(),
        py::arg("seen_indices").noconvert(), py::arg("items_out").noconvert(),
        py::arg("scores_out").noconvert(), py::arg("n_threads"),
        "The k best items of every row of scores, best first, ties to the lower index; the seen\n"
        "items are left out (their scores overwritten with -inf).");
}

}  // namespace

PYBIND11_MODULE(_mf_fast, m) {
  m.doc() = "Matrix factorization (implicit and explicit ALS, SGD) and top-k cores (C++, OpenMP).";
  define_for<float>(m);
  define_for<double>(m);
  m.def("simd_build", &fastml::recommend::simd_target,
        "Instruction-set build of the implicit ALS kernels chosen for this CPU.");
  m.def("min_thread_work", &fastml::recommend::min_thread_work,
        "The least work (multiply-adds) for which a core starts one more thread.");
  m.def("set_min_thread_work", &fastml::recommend::set_min_thread_work, py::arg("work"),
        "Set min_thread_work (tests set 0 so that small shapes run on every thread).");
}
