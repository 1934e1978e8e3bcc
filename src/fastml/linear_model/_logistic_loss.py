"""scikit-learn's LinearModelLoss, for the logistic losses, over fastml's compiled core.

The object answers the calls that scipy's L-BFGS-B and scikit-learn's NewtonCholeskySolver make
of a LinearModelLoss (loss, loss_gradient, gradient_hessian, weight_intercept,
weight_intercept_raw), with the same coefficient layouts and the same scaling: the loss is the
weighted mean of the pointwise losses plus 0.5 * l2_reg_strength * ||coef||^2 (the intercept
unpenalised). Each call is one pass of the core over X; the sums it returns are scaled here, on
arrays of the coefficients' size only.
"""
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from . import _logistic_fast


class CompiledLogisticLoss:
    """The loss of the problem (X, y, sample_weight) for n_classes classes: binomial when
    n_classes == 2 (y holds 0/1), multinomial otherwise (y holds class indices).

    X (float32 or float64, C-contiguous or CSR), y and sample_weight are bound at construction
    and converted once; the X, y and sample_weight arguments of the methods are accepted for
    the interface only and must be those.
    """

    def __init__(self, X, y, sample_weight, *, n_classes, fit_intercept, n_threads):
        self.k = 1 if n_classes == 2 else n_classes
        self.base_loss = SimpleNamespace(is_multiclass=self.k > 1, n_classes=n_classes)
        self.fit_intercept = fit_intercept
        self.n_threads = n_threads
        self.n_samples, self.n_features = X.shape
        self._y = np.ascontiguousarray(y, dtype=np.float64)
        self._sw = (None if sample_weight is None
                    else np.ascontiguousarray(sample_weight, dtype=np.float64))
        self.sw_sum = float(self.n_samples if sample_weight is None else np.sum(sample_weight))
        if sp.issparse(X):
            index = np.int64 if max(X.indices.dtype.itemsize, X.indptr.dtype.itemsize) > 4 \
                else np.int32
            self._x = (np.ascontiguousarray(X.indptr, dtype=index),
                       np.ascontiguousarray(X.indices, dtype=index),
                       np.ascontiguousarray(X.data), X.shape[1])
            self._suffix = "_csr"
        else:
            self._x = (np.ascontiguousarray(X),)
            self._suffix = ""

    def _core(self, name):
        return getattr(_logistic_fast, name + self._suffix)

    # ---- coefficient layouts (scikit-learn's) ----------------------------------------------
    def weight_intercept(self, coef):
        """(weights, intercept) of coef: (n_dof,) for binomial, (k, n_dof) or its F-order
        ravel for multinomial; the intercept last."""
        if not self.base_loss.is_multiclass:
            if self.fit_intercept:
                return coef[:-1], coef[-1]
            return coef, 0.0
        weights = coef.reshape((self.k, -1), order="F") if coef.ndim == 1 else coef
        if self.fit_intercept:
            return weights[:, :-1], weights[:, -1]
        return weights, 0.0

    def _model(self, coef):
        """coef as the core takes it: (k, d) and (k,) float64 arrays."""
        weights, intercept = self.weight_intercept(coef)
        w = np.ascontiguousarray(np.reshape(weights, (self.k, self.n_features)), dtype=np.float64)
        b = np.ascontiguousarray(np.broadcast_to(intercept, (self.k,)), dtype=np.float64)
        return weights, w, b

    def _raw_in(self, raw_prediction):
        if raw_prediction is None:
            return None
        return np.ascontiguousarray(np.reshape(raw_prediction, (self.n_samples, self.k)),
                                    dtype=np.float64)

    def weight_intercept_raw(self, coef, X):
        weights, w, b = self._model(coef)
        raw = self._core("raw_prediction")(*self._x, w, b, self.n_threads)
        _, intercept = self.weight_intercept(coef)
        return weights, intercept, raw[:, 0] if self.k == 1 else raw

    def _gradient(self, coef, weights, grad_w, grad_b, l2_reg_strength, out=None):
        """The scaled gradient in coef's layout, written to out when given."""
        grad_w = grad_w / self.sw_sum + l2_reg_strength * np.reshape(weights, grad_w.shape)
        grad_b = grad_b / self.sw_sum
        if not self.base_loss.is_multiclass:
            full = np.concatenate([grad_w[0], grad_b]) if self.fit_intercept else grad_w[0]
        else:
            full = np.empty((self.k, self.n_features + int(self.fit_intercept)), order="F")
            full[:, :self.n_features] = grad_w
            if self.fit_intercept:
                full[:, -1] = grad_b
            if coef.ndim == 1:
                full = full.ravel(order="F")
        if out is None:
            return full
        out[...] = full
        return out

    # ---- the loss and its derivatives ----------------------------------------------------
    def loss_gradient(self, coef, X=None, y=None, sample_weight=None, l2_reg_strength=0.0,
                      n_threads=1, raw_prediction=None):
        """(loss, gradient) as LinearModelLoss.loss_gradient."""
        weights, w, b = self._model(coef)
        loss, grad_w, grad_b = self._core("loss_gradient")(
            *self._x, self._y, self._sw, w, b, self._raw_in(raw_prediction), self.n_threads)
        loss = loss / self.sw_sum + 0.5 * l2_reg_strength * float(np.sum(w * w))
        return loss, self._gradient(coef, weights, grad_w, grad_b, l2_reg_strength)

    def loss(self, coef, X=None, y=None, sample_weight=None, l2_reg_strength=0.0, n_threads=1,
             raw_prediction=None):
        return self.loss_gradient(coef, X, y, sample_weight, l2_reg_strength, n_threads,
                                  raw_prediction)[0]

    def gradient_hessian(self, coef, X=None, y=None, sample_weight=None, l2_reg_strength=0.0,
                         n_threads=1, gradient_out=None, hessian_out=None, raw_prediction=None):
        """(gradient, hessian, hessian_warning) as LinearModelLoss.gradient_hessian: the
        warning is raised (binomial only) when rows whose pointwise Hessian is <= 0 carry more
        than a quarter of the weight."""
        weights, w, b = self._model(coef)
        _, grad_w, grad_b, hess, nonpositive = self._core("gradient_hessian")(
            *self._x, self._y, self._sw, w, b, self._raw_in(raw_prediction),
            self.fit_intercept, self.n_threads)
        grad = self._gradient(coef, weights, grad_w, grad_b, l2_reg_strength, gradient_out)
        hess /= self.sw_sum
        if l2_reg_strength > 0:
            n_penalised = self.k * self.n_features  # the intercepts come last
            hess.flat[: n_penalised * (hess.shape[0] + 1) : hess.shape[0] + 1] += l2_reg_strength
        if hessian_out is not None:
            hessian_out[...] = hess
            hess = hessian_out
        warning = self.k == 1 and nonpositive / self.sw_sum > 0.25
        return grad, hess, warning
