"""Closed forms the notebooks state and confirm numerically.

Gradient descent on a quadratic with Hessian eigenvalues ``eigenvalues``
contracts each eigen-direction by |1 - lr lambda| per step; heavy-ball momentum
(torch's SGD with momentum ``beta``) and Nesterov's method (``nesterov=True``)
turn each direction into a two-step linear recursion whose spectral radius is
its rate.
"""

import numpy as np

__all__ = ["gd_rate", "heavy_ball_rate", "tuned_heavy_ball", "nesterov_rate", "tuned_nesterov"]


def gd_rate(lr, eigenvalues):
    """max_i |1 - lr lambda_i|: the factor by which GD shrinks the error in its slowest direction."""
    return float(np.max(np.abs(1 - lr * np.asarray(eigenvalues, dtype=np.float64))))


def _largest_root(trace, det):
    """max |z| over the roots of z^2 - trace z + det = 0, elementwise."""
    disc = np.sqrt(np.asarray(trace * trace - 4 * det, dtype=np.complex128))
    return np.maximum(np.abs((trace + disc) / 2), np.abs((trace - disc) / 2))


def heavy_ball_rate(lr, beta, eigenvalues):
    """Spectral radius of heavy-ball momentum on a quadratic (the asymptotic rate per step).

    Along an eigen-direction with curvature lambda, buf_(t+1) = beta buf_t + lambda x_t and
    x_(t+1) = x_t - lr buf_(t+1) give x_(t+1) = (1 + beta - lr lambda) x_t - beta x_(t-1), whose
    characteristic roots solve z^2 - (1 + beta - lr lambda) z + beta = 0.
    """
    lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64))
    return float(np.max(_largest_root(1 + beta - lr * lam, beta + 0 * lam)))


def nesterov_rate(lr, beta, eigenvalues):
    """Spectral radius of Nesterov's method (torch's SGD with ``nesterov=True``) on a quadratic.

    Along curvature lambda, buf_(t+1) = beta buf_t + lambda x_t and x_(t+1) = x_t - lr (lambda x_t +
    beta buf_(t+1)) give x_(t+1) = (1 + beta)(1 - lr lambda) x_t - beta (1 - lr lambda) x_(t-1): roots of
    z^2 - (1 + beta)(1 - lr lambda) z + beta (1 - lr lambda) = 0.
    """
    lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64))
    return float(np.max(_largest_root((1 + beta) * (1 - lr * lam), beta * (1 - lr * lam))))


def tuned_heavy_ball(mu, L):
    """Polyak's tuning for curvatures in [mu, L]: (lr, beta, rate).

    lr = 4 / (sqrt(L) + sqrt(mu))^2, beta = rate^2, rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    """
    kappa = L / mu
    rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, rate ** 2, rate


def tuned_nesterov(mu, L):
    """The best worst-case tuning of Nesterov's method for curvatures in [mu, L]: (lr, beta, rate).

    lr = 4 / (3 L + mu), beta = (sqrt(3 kappa + 1) - 2) / (sqrt(3 kappa + 1) + 2),
    rate = 1 - 2 / sqrt(3 kappa + 1) (Lessard, Recht & Packard 2016): slower than tuned heavy ball's
    (sqrt(kappa) - 1) / (sqrt(kappa) + 1) on quadratics, although of the same order in kappa.
    """
    q = np.sqrt(3 * L / mu + 1)
    return float(4 / (3 * L + mu)), float((q - 2) / (q + 2)), float(1 - 2 / q)
