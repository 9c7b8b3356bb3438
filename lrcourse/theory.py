"""Closed forms the notebooks state and confirm numerically.

Gradient descent on a quadratic with Hessian eigenvalues ``eigenvalues``
contracts each eigen-direction by |1 - lr lambda| per step; heavy-ball momentum
(torch's SGD with momentum ``beta``) turns each direction into a 2x2 linear
recursion whose spectral radius is its rate.
"""

import numpy as np

__all__ = ["gd_rate", "heavy_ball_rate", "tuned_heavy_ball"]


def gd_rate(lr, eigenvalues):
    """max_i |1 - lr lambda_i|: the factor by which GD shrinks the error in its slowest direction."""
    return float(np.max(np.abs(1 - lr * np.asarray(eigenvalues, dtype=np.float64))))


def heavy_ball_rate(lr, beta, eigenvalues):
    """Spectral radius of heavy-ball momentum on a quadratic (the asymptotic rate per step).

    Along an eigen-direction with curvature lambda, buf_(t+1) = beta buf_t + lambda x_t and
    x_(t+1) = x_t - lr buf_(t+1) give x_(t+1) = (1 + beta - lr lambda) x_t - beta x_(t-1), whose
    characteristic roots solve z^2 - (1 + beta - lr lambda) z + beta = 0.
    """
    rates = []
    for lam in np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64)):
        roots = np.roots([1.0, -(1 + beta - lr * lam), beta])
        rates.append(np.max(np.abs(roots)))
    return float(max(rates))


def tuned_heavy_ball(mu, L):
    """Polyak's tuning for curvatures in [mu, L]: (lr, beta, rate).

    lr = 4 / (sqrt(L) + sqrt(mu))^2, beta = rate^2, rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    """
    kappa = L / mu
    rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, rate ** 2, rate
