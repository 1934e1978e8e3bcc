// im2col/col2im for strided convolutions, pooling and batch normalisation (see
// fastml/nn_ops.hpp). Each parallel loop runs over images, (image, channel) planes or channels,
// whose outputs no other iteration touches, and adds within an iteration in a fixed order.
#include <algorithm>
#include <cstdint>

#include "fastml/nn_ops.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::nn {
namespace {

// [lo, hi): the outputs o in [0, n_out) whose input o * stride - pad + k lies in [0, size), so
// that the copies below have no bounds test in their inner loop.
void valid_outputs(index_t k, index_t pad, index_t stride, index_t size, index_t n_out,
                   index_t& lo, index_t& hi) {
  const index_t first = pad - k;              // o * stride >= first
  const index_t last = size - 1 + pad - k;    // o * stride <= last
  lo = std::min(n_out, first > 0 ? (first + stride - 1) / stride : index_t(0));
  hi = last < 0 ? lo : std::max(lo, std::min(n_out, last / stride + 1));
}

// Threads for a loop of `items` iterations over `work` values in all.
int loop_threads(index_t items, index_t work, int n_threads) {
  const index_t most = std::max<index_t>(items, 1);
  return static_cast<int>(std::min<index_t>(threads_for(work, n_threads), most));
}

// The sum of (a[i] - mu)^2 over i in [0, n), in eight partial sums as sum().
template <class T>
double squared_deviations(const T* a, index_t n, double mu) {
  double partial[8] = {};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const double d = a[i + j] - mu;
      partial[j] += d * d;
    }
  double total = 0.0;
  for (; i < n; ++i) total += (a[i] - mu) * (a[i] - mu);
  for (int j = 0; j < 8; ++j) total += partial[j];
  return total;
}

}  // namespace

// ---- im2col / col2im ----------------------------------------------------------------------------

template <class T>
void im2col(const Windows& g, const T* x, T* cols, int n_threads) {
  const index_t Ho = g.Ho(), Wo = g.Wo(), L = Ho * Wo, rows = g.C * g.kh * g.kw;
  const int threads = loop_threads(g.N, g.N * rows * L, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t n = 0; n < g.N; ++n) {
    for (index_t c = 0; c < g.C; ++c) {
      const T* plane = x + (n * g.C + c) * g.H * g.W;
      for (index_t ky = 0; ky < g.kh; ++ky) {
        for (index_t kx = 0; kx < g.kw; ++kx) {
          T* row = cols + ((c * g.kh + ky) * g.kw + kx) * g.N * L + n * L;
          index_t x0, x1;
          valid_outputs(kx, g.pw, g.sw, g.W, Wo, x0, x1);
          for (index_t oy = 0; oy < Ho; ++oy) {
            T* dst = row + oy * Wo;
            const index_t iy = oy * g.sh - g.ph + ky;
            if (iy < 0 || iy >= g.H) {
              std::fill(dst, dst + Wo, T(0));
              continue;
            }
            const T* src = plane + iy * g.W - g.pw + kx;
            std::fill(dst, dst + x0, T(0));
            for (index_t ox = x0; ox < x1; ++ox) dst[ox] = src[ox * g.sw];
            std::fill(dst + x1, dst + Wo, T(0));
          }
        }
      }
    }
  }
}

template <class T>
void col2im(const Windows& g, const T* cols, T* grad_x, int n_threads) {
  const index_t Ho = g.Ho(), Wo = g.Wo(), L = Ho * Wo, rows = g.C * g.kh * g.kw;
  const int threads = loop_threads(g.N, g.N * rows * L, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t n = 0; n < g.N; ++n) {
    std::fill(grad_x + n * g.C * g.H * g.W, grad_x + (n + 1) * g.C * g.H * g.W, T(0));
    for (index_t c = 0; c < g.C; ++c) {
      T* plane = grad_x + (n * g.C + c) * g.H * g.W;
      for (index_t ky = 0; ky < g.kh; ++ky) {
        for (index_t kx = 0; kx < g.kw; ++kx) {
          const T* row = cols + ((c * g.kh + ky) * g.kw + kx) * g.N * L + n * L;
          index_t x0, x1, y0, y1;
          valid_outputs(kx, g.pw, g.sw, g.W, Wo, x0, x1);
          valid_outputs(ky, g.ph, g.sh, g.H, Ho, y0, y1);
          for (index_t oy = y0; oy < y1; ++oy) {
            T* dst = plane + (oy * g.sh - g.ph + ky) * g.W - g.pw + kx;
            const T* src = row + oy * Wo;
            for (index_t ox = x0; ox < x1; ++ox) dst[ox * g.sw] += src[ox];
          }
        }
      }
    }
  }
}

// ---- pooling: one (image, channel) plane per iteration ------------------------------------------

template <class T>
void max_pool_forward(const Windows& g, const T* x, T* out, std::int32_t* argmax,
                      int n_threads) {
  const index_t Ho = g.Ho(), Wo = g.Wo(), planes = g.N * g.C;
  const int threads = loop_threads(planes, planes * g.H * g.W, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t p = 0; p < planes; ++p) {
    const T* plane = x + p * g.H * g.W;
    for (index_t oy = 0; oy < Ho; ++oy) {
      for (index_t ox = 0; ox < Wo; ++ox) {
        const index_t y0 = oy * g.sh, x0 = ox * g.sw;
        T best = plane[y0 * g.W + x0];
        index_t where = y0 * g.W + x0;
        for (index_t dy = 0; dy < g.kh; ++dy) {
          for (index_t dx = 0; dx < g.kw; ++dx) {
            const index_t at = (y0 + dy) * g.W + x0 + dx;
            const T v = plane[at];
            if (v > best || (v != v && best == best)) {  // the first maximum; a NaN wins
              best = v;
              where = at;
            }
          }
        }
        out[(p * Ho + oy) * Wo + ox] = best;
        argmax[(p * Ho + oy) * Wo + ox] = static_cast<std::int32_t>(where);
      }
    }
  }
}

template <class T>
void max_pool_backward(index_t planes, index_t outputs, index_t plane_size, const T* grad_out,
                       const std::int32_t* argmax, T* grad_x, int n_threads) {
  const int threads = loop_threads(planes, planes * plane_size, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t p = 0; p < planes; ++p) {
    T* plane = grad_x + p * plane_size;
    std::fill(plane, plane + plane_size, T(0));
    const T* grad = grad_out + p * outputs;
    const std::int32_t* where = argmax + p * outputs;
    for (index_t q = 0; q < outputs; ++q) plane[where[q]] += grad[q];
  }
}

template <class T>
void avg_pool_forward(const Windows& g, const T* x, T* out, int n_threads) {
  const index_t Ho = g.Ho(), Wo = g.Wo(), planes = g.N * g.C;
  const double scale = 1.0 / static_cast<double>(g.kh * g.kw);
  const int threads = loop_threads(planes, planes * g.H * g.W, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t p = 0; p < planes; ++p) {
    const T* plane = x + p * g.H * g.W;
    for (index_t oy = 0; oy < Ho; ++oy) {
      for (index_t ox = 0; ox < Wo; ++ox) {
        double total = 0.0;
        for (index_t dy = 0; dy < g.kh; ++dy)
          for (index_t dx = 0; dx < g.kw; ++dx)
            total += plane[(oy * g.sh + dy) * g.W + ox * g.sw + dx];
        out[(p * Ho + oy) * Wo + ox] = static_cast<T>(total * scale);
      }
    }
  }
}

template <class T>
void avg_pool_backward(const Windows& g, const T* grad_out, T* grad_x, int n_threads) {
  const index_t Ho = g.Ho(), Wo = g.Wo(), planes = g.N * g.C, plane_size = g.H * g.W;
  const double scale = 1.0 / static_cast<double>(g.kh * g.kw);
  const int threads = loop_threads(planes, planes * plane_size, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t p = 0; p < planes; ++p) {
    T* plane = grad_x + p * plane_size;
    std::fill(plane, plane + plane_size, T(0));
    for (index_t oy = 0; oy < Ho; ++oy) {
      for (index_t ox = 0; ox < Wo; ++ox) {
        const double share = grad_out[(p * Ho + oy) * Wo + ox] * scale;
        for (index_t dy = 0; dy < g.kh; ++dy) {
          T* row = plane + (oy * g.sh + dy) * g.W + ox * g.sw;
          for (index_t dx = 0; dx < g.kw; ++dx) row[dx] = static_cast<T>(row[dx] + share);
        }
      }
    }
  }
}

// ---- batch normalisation: one channel per iteration, in double ----------------------------------

template <class T>
void batch_norm_forward(const Channels& shape, const T* x, const T* gamma, const T* beta,
                        double eps, T* out, double* mean, double* inv_std, int n_threads) {
  const index_t n = shape.n, C = shape.C, S = shape.S;
  const double count = static_cast<double>(n * S);
  const int threads = loop_threads(C, shape.size(), n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < C; ++c) {
    double total = 0.0;
    for (index_t i = 0; i < n; ++i) total += sum(x + (i * C + c) * S, S);
    const double mu = total / count;
    double squares = 0.0;  // a second pass: the mean of the squares less mu^2 cancels digits
    for (index_t i = 0; i < n; ++i) squares += squared_deviations(x + (i * C + c) * S, S, mu);
    const double r = 1.0 / std::sqrt(squares / count + eps);
    mean[c] = mu;
    inv_std[c] = r;
    const double scale = gamma[c] * r, shift = beta[c] - gamma[c] * r * mu;
    for (index_t i = 0; i < n; ++i) {
      const T* src = x + (i * C + c) * S;
      T* dst = out + (i * C + c) * S;
      for (index_t s = 0; s < S; ++s) dst[s] = static_cast<T>(src[s] * scale + shift);
    }
  }
}

template <class T>
void batch_norm_backward(const Channels& shape, const T* grad_out, const T* x, const T* gamma,
                         const double* mean, const double* inv_std, T* grad_x, T* grad_gamma,
                         T* grad_beta, int n_threads) {
  const index_t n = shape.n, C = shape.C, S = shape.S;
  const double count = static_cast<double>(n * S);
  const int threads = loop_threads(C, shape.size(), n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < C; ++c) {
    const double mu = mean[c], r = inv_std[c];
    double sum_g = 0.0, sum_gx = 0.0;
    for (index_t i = 0; i < n; ++i) {
      const T* g = grad_out + (i * C + c) * S;
      const T* v = x + (i * C + c) * S;
      for (index_t s = 0; s < S; ++s) {
        sum_g += g[s];
        sum_gx += g[s] * (v[s] - mu);
      }
    }
    grad_beta[c] = static_cast<T>(sum_g);
    grad_gamma[c] = static_cast<T>(sum_gx * r);
    const double scale = gamma[c] * r / count;
    for (index_t i = 0; i < n; ++i) {
      const T* g = grad_out + (i * C + c) * S;
      const T* v = x + (i * C + c) * S;
      T* dst = grad_x + (i * C + c) * S;
      for (index_t s = 0; s < S; ++s) {
        const double x_hat = (v[s] - mu) * r;
        dst[s] = static_cast<T>(scale * (count * g[s] - sum_g - x_hat * sum_gx * r));
      }
    }
  }
}

template <class T>
void batch_norm_inference(const Channels& shape, const T* x, const T* gamma, const T* beta,
                          const double* mean, const double* var, double eps, T* out,
                          int n_threads) {
  const index_t n = shape.n, C = shape.C, S = shape.S;
  const int threads = loop_threads(C, shape.size(), n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < C; ++c) {
    const double scale = gamma[c] / std::sqrt(var[c] + eps);
    const double shift = beta[c] - scale * mean[c];
    for (index_t i = 0; i < n; ++i) {
      const T* src = x + (i * C + c) * S;
      T* dst = out + (i * C + c) * S;
      for (index_t s = 0; s < S; ++s) dst[s] = static_cast<T>(src[s] * scale + shift);
    }
  }
}

#define FASTML_NN_SPATIAL(T)                                                                   \
  template void im2col<T>(const Windows&, const T*, T*, int);                                 \
  template void col2im<T>(const Windows&, const T*, T*, int);                                 \
  template void max_pool_forward<T>(const Windows&, const T*, T*, std::int32_t*, int);        \
  template void max_pool_backward<T>(index_t, index_t, index_t, const T*, const std::int32_t*, \
                                     T*, int);                                                \
  template void avg_pool_forward<T>(const Windows&, const T*, T*, int);                       \
  template void avg_pool_backward<T>(const Windows&, const T*, T*, int);                      \
  template void batch_norm_forward<T>(const Channels&, const T*, const T*, const T*, double,  \
                                      T*, double*, double*, int);                             \
  template void batch_norm_backward<T>(const Channels&, const T*, const T*, const T*,         \
                                       const double*, const double*, T*, T*, T*, int);        \
  template void batch_norm_inference<T>(const Channels&, const T*, const T*, const T*,        \
                                        const double*, const double*, double, T*, int);
FASTML_NN_SPATIAL(float)
FASTML_NN_SPATIAL(double)
#undef FASTML_NN_SPATIAL

}  // namespace fastml::nn
