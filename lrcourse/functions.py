"""The test surfaces of the course, each with value, analytic gradient and known minimum.

Every surface ``f`` is called as ``f(x)`` for its value and ``f.grad(x)`` for
its gradient. ``x`` has shape ``(dim,)`` for one point, or ``(dim, ...)`` for
a grid, so ``f(np.stack(np.meshgrid(xs, ys)))`` gives the values to contour.
Each surface also carries

- ``minima``: the global minimisers, one row each, and ``min_value``;
- ``bounds``: a sensible plotting box, one ``(low, high)`` per coordinate;
- ``start``: a default starting point for the demonstrations;
- ``name``: how figures and widgets call it.

``Quadratic`` adds its closed forms (smoothness ``L``, strong convexity
``mu``, condition number ``kappa``, the stability limit ``2/L``, the best fixed
lr ``2/(mu+L)`` and its rate); ``Noisy`` wraps any surface with a seeded
Gaussian gradient noise, for the stochastic chapters. ``LeastSquares`` and
``Logistic`` are models fitted to data, with minibatch gradients for one run
(``minibatch_gradient``) or many at once (``batch_gradient``, ``excess``).
"""

import numpy as np
from scipy.special import expit

__all__ = ["Surface", "Quadratic", "Rosenbrock", "Beale", "Saddle", "Himmelblau", "StyblinskiTang", "TwoBasin",
           "Noisy", "LeastSquares", "Logistic", "MovingMinimum", "Rescaled", "Scaled", "SURFACES"]


class Surface:
    """Common behaviour; a subclass writes ``value(x)`` and ``gradient(x)`` on float arrays."""

    name = "surface"
    dim = 2
    minima = np.zeros((1, 2))
    bounds = ((-1.0, 1.0), (-1.0, 1.0))
    start = np.zeros(2)

    def _point(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[:1] != (self.dim,):
            raise ValueError(f"{self.name} takes points of shape ({self.dim}, ...), got {x.shape}")
        return x

    def __call__(self, x):
        with np.errstate(over="ignore", invalid="ignore"):
            return self.value(self._point(x))

    def grad(self, x):
        with np.errstate(over="ignore", invalid="ignore"):
            return self.gradient(self._point(x))

    @property
    def min_value(self):
        return float(self(self.minima[0]))

    def random_starts(self, n, seed=0):
        """``n`` starting points drawn uniformly from the plotting box, shape (n, dim), reproducible by seed."""
        rng = np.random.default_rng(seed)
        return np.column_stack([rng.uniform(low, high, n) for low, high in self.bounds])

    def __repr__(self):
        return f"<{self.name}>"


class Quadratic(Surface):
    """f(x) = 1/2 (x - c)^T A (x - c) with A = Q diag(eigenvalues) Q^T.

    ``eigenvalues`` fix the curvatures (mu = smallest, L = largest), ``angle``
    rotates the axes in 2-D (or ``Q`` gives any orthogonal matrix) and
    ``center`` is the minimiser. ``Quadratic.with_condition(kappa)`` builds one
    with a chosen condition number.
    """

    def __init__(self, eigenvalues=(1.0, 10.0), angle=0.0, center=None, Q=None, start=None):
        self.eigenvalues = np.asarray(eigenvalues, dtype=np.float64).ravel()
        if np.any(self.eigenvalues <= 0):
            raise ValueError(f"Expected positive eigenvalues, but got {self.eigenvalues}")
        self.dim = d = self.eigenvalues.size
        if Q is None:
            Q = np.eye(d)
            if d == 2:
                c, s = np.cos(angle), np.sin(angle)
                Q = np.array([[c, -s], [s, c]])
        self.Q = np.asarray(Q, dtype=np.float64)
        self.A = self.Q @ np.diag(self.eigenvalues) @ self.Q.T
        self.center = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64)
        self.minima = self.center[None, :]
        self.start = np.full(d, 1.0) if start is None else np.asarray(start, dtype=np.float64)
        r = 1.25 * float(np.max(np.abs(self.start - self.center)))
        self.bounds = tuple((c - r, c + r) for c in self.center)
        self.name = f"quadratic (kappa = {self.kappa:g})"

    @classmethod
    def with_condition(cls, kappa, L=1.0, dim=2, angle=0.0, seed=None, **kwargs):
        """Eigenvalues from L/kappa to L (evenly on a log scale); a random rotation if ``seed``."""
        eigenvalues = np.geomspace(L / kappa, L, dim)
        Q = None
        if seed is not None:
            Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
        return cls(eigenvalues, angle=angle, Q=Q, **kwargs)

    @property
    def L(self):
        return float(self.eigenvalues.max())

    @property
    def mu(self):
        return float(self.eigenvalues.min())

    @property
    def kappa(self):
        return self.L / self.mu

    @property
    def lr_max(self):
        """GD converges for 0 < lr < 2/L and diverges beyond."""
        return 2.0 / self.L

    @property
    def lr_best(self):
        """The fixed lr with the fastest worst-case rate, 2/(mu + L)."""
        return 2.0 / (self.mu + self.L)

    @property
    def rate_best(self):
        """|1 - lr_best * L| = (kappa - 1)/(kappa + 1): the error shrinks by this each step."""
        return (self.kappa - 1) / (self.kappa + 1)

    def rate(self, lr):
        """max_i |1 - lr * lambda_i|: GD's contraction factor per step at this lr."""
        return float(np.max(np.abs(1 - lr * self.eigenvalues)))

    def _shifted(self, x):
        return x - self.center.reshape((-1,) + (1,) * (x.ndim - 1))

    def value(self, x):
        z = self._shifted(x)
        return 0.5 * np.einsum("i...,ij,j...->...", z, self.A, z)

    def gradient(self, x):
        return np.einsum("ij,j...->i...", self.A, self._shifted(x))


class Rosenbrock(Surface):
    """f(x, y) = (a - x)^2 + b (y - x^2)^2: a curved narrow valley, minimum (a, a^2)."""

    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    start = np.array([-1.5, 2.0])

    def __init__(self, a=1.0, b=100.0):
        self.a, self.b = a, b
        self.minima = np.array([[a, a * a]])
        self.name = "Rosenbrock" if (a, b) == (1.0, 100.0) else f"Rosenbrock (a={a}, b={b})"

    def value(self, p):
        x, y = p
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def gradient(self, p):
        x, y = p
        return np.stack([-2 * (self.a - x) - 4 * self.b * x * (y - x * x),
                         2 * self.b * (y - x * x)])


class Beale(Surface):
    """f(x, y) = sum_i (c_i - x + x y^i)^2, c = (1.5, 2.25, 2.625); minimum (3, 0.5)."""

    name = "Beale"
    minima = np.array([[3.0, 0.5]])
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    start = np.array([1.0, 1.5])
    _c = (1.5, 2.25, 2.625)

    def value(self, p):
        x, y = p
        return sum((c - x + x * y ** i) ** 2 for i, c in enumerate(self._c, start=1))

    def random_starts(self, n, seed=0):
        """Uniform in [-2, 2]^2: further out the y^3 term makes the walls 10^4 times steeper than the valley."""
        rng = np.random.default_rng(seed)
        return rng.uniform(-2.0, 2.0, (n, 2))

    def gradient(self, p):
        x, y = p
        dx = dy = 0.0
        for i, c in enumerate(self._c, start=1):
            r = c - x + x * y ** i
            dx = dx + 2 * r * (y ** i - 1)
            dy = dy + 2 * r * i * x * y ** (i - 1)
        return np.stack([dx + 0 * y, dy + 0 * x])


class Saddle(Surface):
    """f(x, y) = x^2 + y^4/4 - y^2/2: a saddle point at the origin between minima (0, +-1).

    Gradient descent started on the line y = 0 walks into the saddle and stays;
    any push off that line escapes, slowly, because the curvature there is -1.
    """

    name = "saddle"
    minima = np.array([[0.0, -1.0], [0.0, 1.0]])
    saddle_point = np.array([0.0, 0.0])
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    start = np.array([1.5, 1e-3])

    def value(self, p):
        x, y = p
        return x * x + y ** 4 / 4 - y * y / 2

    def random_starts(self, n, seed=0):
        """Starts near the ridge y = 0 that leads into the saddle: x uniform in [-2, 2], |y| from 1e-6 to 1e-2
        (uniform on a log scale, either sign), so that every run first has to escape the saddle."""
        rng = np.random.default_rng(seed)
        return np.column_stack([rng.uniform(-2.0, 2.0, n), rng.choice([-1.0, 1.0], n) * 10 ** rng.uniform(-6, -2, n)])

    def gradient(self, p):
        x, y = p
        return np.stack([2 * x, y ** 3 - y])


class Himmelblau(Surface):
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2: four minima, all with value 0."""

    name = "Himmelblau"
    minima = np.array([[3.0, 2.0], [-2.805118086952745, 3.131312518250573],
                       [-3.779310253377747, -3.283185991286170],
                       [3.584428340330492, -1.848126526964404]])
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    start = np.array([0.0, 0.0])

    def value(self, p):
        x, y = p
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def gradient(self, p):
        x, y = p
        a, b = x * x + y - 11, x + y * y - 7
        return np.stack([4 * x * a + 2 * b, 2 * a + 4 * y * b])


class StyblinskiTang(Surface):
    """f(x, y) = 1/2 sum (z^4 - 16 z^2 + 5 z) over z = x, y: four minima of different depths.

    Each coordinate has a deeper well near -2.90 and a shallower one near 2.75, split at 0.157, so
    the four minima are the global one (-2.90, -2.90), two at -64.2 and the shallowest at (2.75, 2.75);
    ``minima`` lists all four, global first, with ``depths`` their values. Gradient descent with a
    small lr ends in the minimum of the quarter it starts in.
    """

    name = "Styblinski-Tang"
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    start = np.array([3.5, 4.0])

    def __init__(self):
        deep, split, shallow = np.sort(np.roots([4.0, 0.0, -32.0, 5.0]).real)  # where 4 z^3 - 32 z + 5 = 0
        self.split = split
        self.minima = np.array([[deep, deep], [deep, shallow], [shallow, deep], [shallow, shallow]])
        self.depths = self(self.minima.T)

    def value(self, p):
        return 0.5 * sum(z ** 4 - 16 * z ** 2 + 5 * z for z in p)

    def gradient(self, p):
        return np.stack([0.5 * (4 * z ** 3 - 32 * z + 5) for z in p])

    def basin(self, points):
        """Which minimum's quarter each point lies in (0 = the global minimum's), points of shape (n, 2)."""
        points = np.asarray(points, dtype=np.float64)
        right = points > self.split
        return 2 * right[..., 0] + right[..., 1]


class TwoBasin(Surface):
    """A 1-D function with a sharp deep basin and a wide shallow one: the lr picks the basin.

    f(x) = x^2/20 - depth * exp(-(x - x_sharp)^2 / (2 w^2)) - exp(-(x - x_wide)^2 / 2)

    The sharp basin (curvature about ``depth/w^2``) is the global minimum; an
    lr above 2/curvature cannot settle there, bounces out and lands in the wide
    basin, which a small lr would never leave. ``minima`` holds the global
    one, ``local_minima`` both (sharp first), ``curvatures`` f'' at each.
    """

    name = "two basins"
    dim = 1

    def __init__(self, x_sharp=-1.0, x_wide=2.5, depth=1.5, width=0.25):
        self.x_sharp, self.x_wide, self.depth, self.width = x_sharp, x_wide, depth, width
        self.local_minima = np.array([[self._newton(x_sharp)], [self._newton(x_wide)]])
        self.minima = self.local_minima[np.argmin(self(self.local_minima.T))][None, :]
        self.curvatures = np.array([self._second(x[0]) for x in self.local_minima])
        self.bounds = ((x_sharp - 2.5, x_wide + 2.5),)
        self.start = np.array([x_sharp + 0.5 * width])

    def _terms(self, x):
        sharp = self.depth * np.exp(-((x - self.x_sharp) ** 2) / (2 * self.width ** 2))
        wide = np.exp(-((x - self.x_wide) ** 2) / 2)
        return sharp, wide

    def value(self, p):
        x = p[0]
        sharp, wide = self._terms(x)
        return x * x / 20 - sharp - wide

    def gradient(self, p):
        x = p[0]
        sharp, wide = self._terms(x)
        return (x / 10 + sharp * (x - self.x_sharp) / self.width ** 2 + wide * (x - self.x_wide))[None]

    def _second(self, x):
        sharp, wide = self._terms(x)
        w2 = self.width ** 2
        return (0.1 + sharp * (1 / w2 - (x - self.x_sharp) ** 2 / w2 ** 2)
                + wide * (1 - (x - self.x_wide) ** 2))

    def _newton(self, x):
        for _ in range(50):
            x = x - self.gradient(np.array([x]))[0] / self._second(x)
        return float(x)


class Noisy(Surface):
    """``surface`` with a noisy gradient: grad(x) + sigma * N(0, I), reproducible from ``seed``.

    The value stays exact, so the learning curve shows where the iterate
    really is. ``reset()`` restarts the noise sequence.
    """

    def __init__(self, surface, sigma=0.1, seed=0):
        self.surface, self.sigma, self.seed = surface, sigma, seed
        for attr in ("dim", "minima", "bounds", "start"):
            setattr(self, attr, getattr(surface, attr))
        self.name = f"{surface.name}, noisy (sigma = {sigma:g})"
        self.reset()

    def reset(self):
        self.rng = np.random.default_rng(self.seed)

    def value(self, x):
        return self.surface.value(x)

    def gradient(self, x):
        return self.surface.gradient(x) + self.sigma * self.rng.standard_normal(x.shape)


class LeastSquares(Surface):
    """Linear regression f(w) = 1/(2n) ||X w - y||^2 on a data set, with minibatch gradients.

    ``minibatch_gradient(w, idx)`` is the gradient on the rows ``idx`` (SGD
    draws them with replacement: ``rng.integers(0, n, batch_size)``). The
    Hessian ``H = X^T X / n`` is constant, ``minima`` holds the least-squares
    solution, and ``noise_floor(lr, batch_size)`` is the expected excess loss
    E[f(w) - f*] at which constant-lr SGD settles (see its docstring).
    ``LeastSquares.diabetes()`` builds the course's example from
    scikit-learn's bundled diabetes data (no download).
    """

    def __init__(self, X, y, name="least squares"):
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.n, self.dim = self.X.shape
        self.name = name
        self.H = self.X.T @ self.X / self.n
        w_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.minima = w_star[None, :]
        self.eigenvalues = np.linalg.eigvalsh(self.H)
        self.L, self.mu = float(self.eigenvalues[-1]), float(self.eigenvalues[0])
        self.start = np.zeros(self.dim)
        r = 1.5 * max(1.0, float(np.max(np.abs(w_star))))
        self.bounds = tuple((c - r, c + r) for c in w_star)
        self.residuals = self.X @ w_star - self.y  # at the optimum

    @classmethod
    def diabetes(cls, drop=()):
        """Diabetes progression from standardized features and an intercept (442 patients).

        ``drop`` names features to leave out, e.g. ``("s1",)``: total cholesterol
        s1 is nearly a combination of s2, s3, s4 and s5 (regressed on them, R^2 = 0.98), and
        without it the condition number falls from about 470 to about 47.
        """
        from sklearn.datasets import load_diabetes

        data = load_diabetes(scaled=False)
        unknown = set(drop) - set(data.feature_names)
        if unknown:
            raise ValueError(f"Expected feature names from {data.feature_names}, but got {sorted(unknown)}")
        keep = [i for i, name in enumerate(data.feature_names) if name not in drop]
        X, y = data.data[:, keep], data.target
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        y = (y - y.mean()) / y.std()
        name = "diabetes least squares" + (f" (without {', '.join(drop)})" if drop else "")
        return cls(np.column_stack([np.ones(len(X)), X]), y, name=name)

    def _residual(self, w, rows=slice(None)):
        X = self.X[rows]
        y = self.y[rows]
        return X @ w - (y if w.ndim == 1 else y[:, None]), X

    def value(self, w):
        r, _ = self._residual(w)
        return 0.5 * np.mean(r * r, axis=0)

    def gradient(self, w):
        r, X = self._residual(w)
        return X.T @ r / self.n

    def minibatch_gradient(self, w, idx):
        """The gradient on the rows ``idx`` only: X_b^T (X_b w - y_b) / len(idx)."""
        r, X = self._residual(np.asarray(w, dtype=np.float64), idx)
        return X.T @ r / len(idx)

    def batch_gradient(self, W, idx):
        """Minibatch gradients of many runs at once: ``W`` (S, d, k), ``idx`` (S, B) rows per run group."""
        X, y = self.X[idx], self.y[idx]                                  # (S, B, d), (S, B)
        return X.transpose(0, 2, 1) @ (X @ W - y[:, :, None]) / idx.shape[1]

    def excess(self, W):
        """f(w) - f* = (w - w*)^T H (w - w*) / 2 for many runs at once: ``W`` (S, d, k) -> (S, k)."""
        e = W - self.minima[0][:, None]
        return 0.5 * np.sum(e * (self.H @ e), axis=-2)

    @property
    def gradient_noise(self):
        """Covariance of a one-sample gradient at the optimum: (1/n) sum_i r_i^2 x_i x_i^T."""
        Xr = self.X * self.residuals[:, None]
        return Xr.T @ Xr / self.n

    def noise_floor(self, lr, batch_size=1, exact=True):
        """Expected excess loss E[f(w) - f*] of constant-lr SGD once it has settled.

        SGD with batches of ``batch_size`` rows drawn with replacement has
        error e = w - w* with stationary covariance P solving

            P = E[(I - lr H_b) P (I - lr H_b)] + lr^2 Sigma / B,

        (H_b the batch Hessian, Sigma the one-sample gradient covariance at w*),
        and the floor is tr(H P) / 2. ``exact=False`` gives the small-lr
        approximation lr tr(Sigma) / (4 B): proportional to lr, inversely to B.
        Returns inf where SGD is unstable (no stationary state: the solution P is then no covariance).
        """
        if not exact or lr * self.L < 1e-9:  # the approximation is exact to ~1e-9 there; the solve is not
            return lr * np.trace(self.gradient_noise) / (4 * batch_size)
        P = self.stationary_covariance(lr, batch_size)
        return np.inf if P is None else 0.5 * float(np.trace(self.H @ P))

    def _covariance_map(self, lr, batch_size):
        """The matrix of P -> E[(I - lr H_b) P (I - lr H_b)] acting on P flattened, and the noise lr^2 Sigma / B."""
        d, B = self.dim, batch_size
        K = np.kron(self.H, np.eye(d)) + np.kron(np.eye(d), self.H)         # P -> HP + PH
        HH = np.kron(self.H, self.H)                                          # P -> HPH
        M = self._fourth_moment()                                             # P -> E[x x^T P x x^T]
        step = np.eye(d * d) - lr * K + lr ** 2 * (HH + (M - HH) / B)
        return step, lr ** 2 * self.gradient_noise.reshape(-1) / B

    def stationary_covariance(self, lr, batch_size=1):
        """The covariance P of w - w* at which constant-lr SGD settles, or None where it never settles."""
        d = self.dim
        step, noise = self._covariance_map(lr, batch_size)
        P = np.linalg.solve(np.eye(d * d) - step if lr > 0 else np.eye(d * d), noise).reshape(d, d)
        # The map P -> E[(I - lr H_b) P (I - lr H_b)] keeps covariances positive semidefinite, so (Perron-
        # Frobenius on that cone) it has spectral radius < 1, i.e. SGD settles, exactly when the solution P
        # of the equation above is itself a covariance. A 10x10 check instead of a 100x100 eigenproblem.
        stable = np.linalg.eigvalsh((P + P.T) / 2)[0] >= 0 and np.trace(self.H @ P) > 0
        return P if stable else None

    def expected_excess(self, lrs, batch_size, P0):
        """Exact E[f(w_t) - f*] for t = 0 .. len(lrs) of SGD with lr ``lrs[t]`` at step t, started from an
        error of mean 0 and covariance ``P0`` (a settled run, e.g. ``stationary_covariance(lr, B)``)."""
        d = self.dim
        P, out, maps = np.asarray(P0, dtype=np.float64).reshape(-1), [], {}
        for lr in lrs:
            out.append(0.5 * float(np.trace(self.H @ P.reshape(d, d))))
            if lr not in maps:
                maps[lr] = self._covariance_map(lr, batch_size)
            step, noise = maps[lr]
            P = step @ P + noise
        out.append(0.5 * float(np.trace(self.H @ P.reshape(d, d))))
        return np.array(out)

    def _fourth_moment(self):
        if getattr(self, "_M", None) is None:
            outer = np.einsum("ni,nj->nij", self.X, self.X)
            self._M = np.einsum("nij,nkl->ikjl", outer, outer).reshape(self.dim ** 2, -1) / self.n
        return self._M


class Logistic(Surface):
    """Logistic regression with a small ridge: f(w) = mean_i [log(1 + e^(x_i.w)) - y_i x_i.w] + l2/2 |w|^2.

    Labels ``y`` are 0 or 1; a column of ones in ``X`` plays the intercept. The ridge makes the minimum
    unique and finite even when the classes can be separated; ``minima`` holds it (Newton's method).
    ``minibatch_gradient(w, idx)`` is the gradient on the rows ``idx``, ``batch_gradient(W, idx)`` the
    same for many runs at once, and ``X_test``/``y_test`` (if given) a held-out set for ``test_loss``.
    ``Logistic.zipf()`` builds sparse binary features whose frequencies follow a Zipf law, as words do;
    ``Logistic.digits()`` the 8x8 handwritten digits bundled with scikit-learn (no download).
    """

    def __init__(self, X, y, l2=1e-3, X_test=None, y_test=None, name="logistic regression"):
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.n, self.dim = self.X.shape
        self.l2, self.name = l2, name
        self.X_test = None if X_test is None else np.asarray(X_test, dtype=np.float64)
        self.y_test = None if y_test is None else np.asarray(y_test, dtype=np.float64)
        self.start = np.zeros(self.dim)
        self.frequency = np.mean(self.X != 0, axis=0)  # how often each feature is present (nonzero)
        self.minima = self._newton()[None, :]
        r = 1.5 * max(1.0, float(np.max(np.abs(self.minima))))
        self.bounds = tuple((c - r, c + r) for c in self.minima[0])

    @classmethod
    def zipf(cls, n=4000, dim=100, exponent=1.0, top=0.5, n_test=4000, l2=1e-3, seed=0):
        """Binary features, feature j present with probability top / (j + 1)^exponent; an intercept column.

        The true weights are standard normal; each label is drawn from the logistic model, so the Bayes
        error is not zero. ``n`` training and ``n_test`` held-out examples come from the same law.
        """
        rng = np.random.default_rng(seed)
        frequency = top / np.arange(1, dim + 1) ** exponent
        w_true = rng.standard_normal(dim + 1)

        def sample(m):
            X = np.column_stack([np.ones(m), (rng.random((m, dim)) < frequency).astype(np.float64)])
            return X, (rng.random(m) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)

        (X, y), (X_test, y_test) = sample(n), sample(n_test)
        problem = cls(X, y, l2, X_test, y_test, name=f"logistic regression, {dim} Zipf features")
        problem.w_true = w_true
        return problem

    @classmethod
    def digits(cls, target=lambda digit: digit % 2 == 1, l2=1e-3, test_fraction=0.5, seed=0):
        """The 1797 handwritten 8x8 digits (pixels scaled to [0, 1], plus an intercept), a binary target.

        ``target(digit)`` says which digits are class 1 (default: the odd ones). A random half is held
        out for ``test_loss``. Border pixels are almost always 0: rare features.
        """
        from sklearn.datasets import load_digits

        data = load_digits()
        X = np.column_stack([np.ones(len(data.target)), data.data / 16.0])
        y = np.array([float(target(d)) for d in data.target])
        order = np.random.default_rng(seed).permutation(len(y))
        cut = int(round(len(y) * (1 - test_fraction)))
        train, test = order[:cut], order[cut:]
        return cls(X[train], y[train], l2, X[test], y[test], name="logistic regression on the digits")

    def _loss(self, W, X, y):
        z = np.einsum("nd,...dk->...nk", X, W) if W.ndim > 1 else X @ W
        data = np.logaddexp(0.0, z) - (y[:, None] if W.ndim > 1 else y) * z
        penalty = 0.5 * self.l2 * np.sum(W * W, axis=-2 if W.ndim > 1 else 0)
        return np.mean(data, axis=-2 if W.ndim > 1 else 0) + penalty

    def value(self, w):
        return self._loss(w, self.X, self.y)

    def test_loss(self, w):
        """The mean logistic loss on the held-out examples (without the ridge)."""
        z = np.einsum("nd,...dk->...nk", self.X_test, w) if w.ndim > 1 else self.X_test @ w
        y = self.y_test[:, None] if w.ndim > 1 else self.y_test
        return np.mean(np.logaddexp(0.0, z) - y * z, axis=-2 if w.ndim > 1 else 0)

    def gradient(self, w):
        return self.minibatch_gradient(w, slice(None))

    def excess(self, W):
        """f(w) - f* for many runs at once: ``W`` (S, d, k) -> (S, k)."""
        return self._loss(W, self.X, self.y) - self.min_value

    def minibatch_gradient(self, w, idx):
        """The gradient on the rows ``idx`` only: X_b^T (sigmoid(X_b w) - y_b) / B + l2 w."""
        X, y = self.X[idx], self.y[idx]
        z = X @ w
        residual = expit(z) - (y if w.ndim == 1 else y[:, None])
        return X.T @ residual / len(X) + self.l2 * w

    def batch_gradient(self, W, idx):
        """Minibatch gradients of many runs at once: ``W`` (S, d, k), ``idx`` (S, B) rows per run group."""
        X, y = self.X[idx], self.y[idx]                                  # (S, B, d), (S, B)
        residual = expit(X @ W) - y[:, :, None]                      # (S, B, k)
        return X.transpose(0, 2, 1) @ residual / idx.shape[1] + self.l2 * W

    def _newton(self, iterations=50):
        w = np.zeros(self.dim)
        for _ in range(iterations):
            p = expit(self.X @ w)
            g = self.X.T @ (p - self.y) / self.n + self.l2 * w
            H = (self.X * (p * (1 - p))[:, None]).T @ self.X / self.n + self.l2 * np.eye(self.dim)
            step = np.linalg.solve(H, g)
            w = w - step
            if np.max(np.abs(step)) < 1e-13 * max(1.0, np.max(np.abs(w))):
                break
        return w


class Rescaled(Surface):
    """The surface ``f`` in other units of x: g(x) = f(x / scale), so every length is ``scale`` times longer.

    Its minima, start and box are ``scale`` times f's, its values are f's: an optimizer whose steps have
    the units of x (Newton's method; SGD with its lr times scale^2) follows the same path, ``scale`` times
    larger. Adadelta does only if its eps is given its units too (chapter 08): with eps = 0 it never moves.
    """

    def __init__(self, f, scale):
        self.f, self.scale = f, float(scale)
        self.dim = f.dim
        self.minima = f.minima * self.scale
        self.start = f.start * self.scale
        self.bounds = tuple((low * self.scale, high * self.scale) for low, high in f.bounds)
        self.name = f"{f.name}, lengths times {self.scale:g}"

    def value(self, x):
        return self.f.value(x / self.scale)

    def gradient(self, x):
        return self.f.gradient(x / self.scale) / self.scale


class Scaled(Surface):
    """The surface ``f`` with its loss multiplied by ``factor``: g(x) = factor * f(x), same minima and box.

    Gradient descent's right lr changes by 1 / factor; Adam's steps do not change while its eps is
    negligible next to the gradients' root mean square.
    """

    def __init__(self, f, factor):
        self.f, self.factor = f, float(factor)
        self.dim, self.minima, self.start, self.bounds = f.dim, f.minima, f.start, f.bounds
        self.name = f"{f.name}, loss times {self.factor:g}"

    def value(self, x):
        return self.factor * self.f.value(x)

    def gradient(self, x):
        return self.factor * self.f.gradient(x)


class MovingMinimum:
    """A quadratic whose minimum moves: f_t(x) = 1/2 sum_i c_i (x_i - m_i(t))^2, m(t) on a circle.

    The minimum goes round the unit circle once every ``period`` steps, at speed ``speed`` =
    2 pi / period per step; ``curvatures`` are the c_i. ``grad(x, t)`` is the gradient of f_t at ``x``
    (``x`` of shape (2,) or (2, k) for k runs), ``minimum(t)`` the minimum's place at step t (t may be
    an array). ``lrcourse.runs.track`` runs an optimizer after it.
    """

    dim = 2

    def __init__(self, period=200, curvatures=(1.0, 0.25)):
        self.period = period
        self.curvatures = np.asarray(curvatures, dtype=np.float64)
        self.speed = 2 * np.pi / period
        self.name = f"a minimum going round the unit circle every {period} steps"

    def minimum(self, t):
        angle = 2 * np.pi * np.asarray(t, dtype=np.float64) / self.period
        return np.stack([np.cos(angle), np.sin(angle)])

    def grad(self, x, t):
        m = self.minimum(t)
        return self.curvatures.reshape((2,) + (1,) * (np.ndim(x) - 1)) * (x - m.reshape((2,) + (1,) * (np.ndim(x) - 1)))


SURFACES = {
    "quadratic": lambda: Quadratic(eigenvalues=(1.0, 10.0), angle=np.pi / 6, start=(-1.5, 1.0)),
    "Rosenbrock": Rosenbrock,
    "Beale": Beale,
    "saddle": Saddle,
    "Himmelblau": Himmelblau,
}
"""The 2-D surfaces by name, as the widgets list them; each value builds a fresh surface."""
