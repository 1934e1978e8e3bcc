"""The l1 and elastic-net penalised logistic fit (scikit-learn's saga problem) by proximal
Newton steps over fastml's compiled loss, gradient and Hessian (CompiledLogisticLoss).

scikit-learn's saga minimises (1/n) sum_i sw_i l_i + (1/(C n)) ((1 - rho)/2 ||w||^2 +
rho ||w||_1), intercepts unpenalised; multiplied by n / sum(sw) that is the compiled loss's
scaling with l2_reg_strength = (1 - rho) / (C sum(sw)) and an l1 strength rho / (C sum(sw)): the
same minimiser. saga's stochastic epochs reach it to its tol; each step here is one pass over X
for the gradient and Hessian (as liblinear's newGLMNET for the l1 penalty): the quadratic model
with the l1 term is minimised by coordinate descent on the (n_dof x n_dof) Hessian (the compiled
_logistic_fast.l1_quadratic_cd), then a backtracking line search on the true objective; it
stops when a step moves no coefficient by more than tol (scaled by the largest coefficient).
"""
import numpy as np

from . import _logistic_fast

_SUFFICIENT_DECREASE = 0.01  # Armijo's sigma on the predicted decrease, as newGLMNET
_BACKTRACK = 0.5
_MAX_HALVINGS = 30
_INNER_TOL = 1e-2  # the subproblem's tolerance, relative to the outer one
_MAX_SWEEPS = 1000


def penalised_mask(loss):
    """Which entries of the flat coefficients carry the penalty (not the intercepts, the last
    k entries in scikit-learn's layout)."""
    n = loss.k * (loss.n_features + int(loss.fit_intercept))
    mask = np.ones(n, dtype=bool)
    if loss.fit_intercept:
        mask[-loss.k:] = False
    return mask


def l1_newton(loss, w0, *, l1_strength, l2_strength, tol, max_iter):
    """(w, n_iter, converged): the minimiser of loss(w) + l1_strength * ||w[penalised]||_1
    from w0 (flat, scikit-learn's layout: the F-order ravel of (k, n_dof) when multinomial),
    loss a CompiledLogisticLoss whose objective takes l2_reg_strength = l2_strength."""
    w = np.array(w0, dtype=np.float64)
    mask = penalised_mask(loss)
    penalised = mask.astype(np.uint8)

    def objective(v):
        return loss.loss(v, l2_reg_strength=l2_strength) + l1_strength * np.abs(v[mask]).sum()

    value = objective(w)
    for n_iter in range(1, max_iter + 1):
        grad, hess, _ = loss.gradient_hessian(w, l2_reg_strength=l2_strength)
        scale = max(1.0, np.max(np.abs(w), initial=0.0))
        d, _ = _logistic_fast.l1_quadratic_cd(np.ascontiguousarray(hess), grad, w, penalised,
                                              l1_strength, _INNER_TOL * tol * scale,
                                              _MAX_SWEEPS)
        predicted = grad @ d + l1_strength * (np.abs((w + d)[mask]).sum()
                                              - np.abs(w[mask]).sum())
        step = 1.0
        for _ in range(_MAX_HALVINGS):
            trial = w + step * d
            new_value = objective(trial)
            if new_value <= value + _SUFFICIENT_DECREASE * step * predicted:
                break
            step *= _BACKTRACK
        else:
            return w, n_iter, False  # no decrease left: w is optimal to rounding
        moved = np.max(np.abs(step * d), initial=0.0)
        w, value = trial, new_value
        if moved <= tol * scale:
            return w, n_iter, True
    return w, max_iter, False
