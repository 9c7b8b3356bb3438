"""The optimizers of the course in plain numpy, one small class each.

Every class takes torch's hyperparameter names and defaults (minus ``params``)
and is used the same way::

    opt = Adam(lr=0.1)
    for t in range(100):
        x = opt.step(x, f.grad(x))   # returns the next point as a new array
        opt.lr = schedule(t + 1)     # the lr may change between steps

State lives on the optimizer under the symbols the notebooks use: the step
count ``t`` and buffers such as ``buf``, ``s``, ``m``, ``v``. ``reset()``
forgets it. The update rules follow ``torch.optim``'s single-tensor code
exactly (the tests check them against it to 1e-9 over hundreds of steps); the
docstring of each class states the rule as equations.

NaN or inf in a gradient is never turned into a number: it reaches the
returned point, where ``np.isfinite`` shows it. numpy's overflow warnings are
silenced inside a step, because a diverging run is something the course
shows on purpose.
"""

import numpy as np

from lrcourse import _checks

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"]


class Optimizer:
    """What every optimizer shares: the step count ``t`` and the call protocol.

    A subclass sets its hyperparameters, lists its state buffers in
    ``_state_names`` and writes ``_update(x, g)``, which returns the next point
    from the current point ``x`` and the gradient ``g`` (already negated when
    ``maximize`` is set; ``t`` already counts this step).
    """

    _state_names = ()

    def __init__(self, lr, maximize=False):
        _checks.lr(lr)
        self.lr = lr
        self.maximize = maximize
        self.reset()

    def reset(self):
        """Forget the state: the next ``step`` is step 1 again."""
        self.t = 0
        for name in self._state_names:
            setattr(self, name, None)

    def step(self, x, grad):
        """Return the next point. ``x`` and ``grad`` are not modified."""
        x = np.array(x, dtype=np.float64)  # a copy: the caller's array is left alone
        g = np.asarray(grad, dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"grad has shape {g.shape} but x has shape {x.shape}")
        if self.t == 0:
            self._init_state(x)
        self.t += 1
        if self.maximize:
            g = -g
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._update(x, g)

    def _init_state(self, x):
        """Buffers start at zero unless a subclass says otherwise."""
        for name in self._state_names:
            setattr(self, name, np.zeros_like(x))

    def _update(self, x, g):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError

    def __repr__(self):
        names = [n for n in vars(self) if n not in ("t",) + tuple(self._state_names)]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Gradient descent, with optional momentum, Nesterov and weight decay.

    g   <- g + weight_decay * x
    buf <- g                                     at t = 1
    buf <- momentum * buf + (1 - dampening) * g  after
    g   <- g + momentum * buf    (nesterov)   or   g <- buf
    x   <- x - lr * g
    """

    _state_names = ("buf",)

    def __init__(self, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        _checks.nonnegative(momentum, "momentum")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nesterov(nesterov, momentum, dampening)
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        super().__init__(lr, maximize)

    def _init_state(self, x):
        self.buf = None  # the first gradient becomes the buffer (torch's choice)

    def _update(self, x, g):
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        if self.momentum != 0:
            if self.buf is None:
                self.buf = g.copy()
            else:
                self.buf = self.momentum * self.buf + (1 - self.dampening) * g
            g = g + self.momentum * self.buf if self.nesterov else self.buf
        return x - self.lr * g


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi et al. 2011): each coordinate's step shrinks with its gradient history.

    g   <- g + weight_decay * x
    lr_t = lr / (1 + (t - 1) * lr_decay)
    s   <- s + g^2                      (s starts at initial_accumulator_value)
    x   <- x - lr_t * g / (sqrt(s) + eps)
    """

    _state_names = ("s",)

    def __init__(self, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        _checks.nonnegative(lr_decay, "lr_decay")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nonnegative(initial_accumulator_value, "initial_accumulator_value")
        _checks.eps(eps)
        self.lr_decay, self.weight_decay = lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps
        super().__init__(lr, maximize)

    def _init_state(self, x):
        self.s = np.full_like(x, self.initial_accumulator_value)

    def _update(self, x, g):
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        lr_t = self.lr / (1 + (self.t - 1) * self.lr_decay)
        self.s = self.s + g * g
        return x - lr_t * g / (np.sqrt(self.s) + self.eps)


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton 2012): divide by a moving RMS of recent gradients.

    g   <- g + weight_decay * x
    v   <- alpha * v + (1 - alpha) * g^2
    m   <- alpha * m + (1 - alpha) * g                   (centered only)
    d   =  sqrt(v - m^2) + eps  (centered)   or   sqrt(v) + eps
    buf <- momentum * buf + g / d;  x <- x - lr * buf   (momentum > 0)
    x   <- x - lr * g / d                                (otherwise)
    """

    _state_names = ("v", "m", "buf")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        _checks.eps(eps)
        _checks.nonnegative(momentum, "momentum")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nonnegative(alpha, "alpha")
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered
        super().__init__(lr, maximize)

    def _update(self, x, g):
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        a = self.alpha
        self.v = a * self.v + (1 - a) * g * g
        if self.centered:
            self.m = a * self.m + (1 - a) * g
            d = np.sqrt(self.v - self.m * self.m) + self.eps
        else:
            d = np.sqrt(self.v) + self.eps
        if self.momentum > 0:
            self.buf = self.momentum * self.buf + g / d
            return x - self.lr * self.buf
        return x - self.lr * g / d


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012): the ratio of two RMS values sets the step's size and units.

    g  <- g + weight_decay * x
    v  <- rho * v + (1 - rho) * g^2                  moving average of g^2
    dx =  sqrt(u + eps) / sqrt(v + eps) * g          the update, in x's units
    u  <- rho * u + (1 - rho) * dx^2                 moving average of dx^2
    x  <- x - lr * dx
    """

    _state_names = ("v", "u")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        _checks.rho(rho)
        _checks.eps(eps)
        _checks.nonnegative(weight_decay, "weight_decay")
        self.rho, self.eps, self.weight_decay = rho, eps, weight_decay
        super().__init__(lr, maximize)

    def _update(self, x, g):
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        rho, eps = self.rho, self.eps
        self.v = rho * self.v + (1 - rho) * g * g
        dx = np.sqrt(self.u + eps) / np.sqrt(self.v + eps) * g
        self.u = rho * self.u + (1 - rho) * dx * dx
        return x - self.lr * dx


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015): momentum on g, RMS scaling by g^2, both bias-corrected.

    g     <- g + weight_decay * x          (AdamW instead: x <- x * (1 - lr * weight_decay))
    m     <- beta1 * m + (1 - beta1) * g
    v     <- beta2 * v + (1 - beta2) * g^2
    v_max <- max(v_max, v)                 (amsgrad; then v_max replaces v below)
    m_hat =  m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
    x     <- x - lr * m_hat / (sqrt(v_hat) + eps)
    """

    _state_names = ("m", "v", "v_max")
    decoupled_weight_decay = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False):
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        self.betas, self.eps = tuple(betas), eps
        self.weight_decay, self.amsgrad = weight_decay, amsgrad
        super().__init__(lr, maximize)

    def _update(self, x, g):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                x = x * (1 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * x
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        v = self.v
        if self.amsgrad:
            self.v_max = np.maximum(self.v_max, self.v)  # np.maximum keeps NaN
            v = self.v_max
        m_hat = self.m / (1 - beta1 ** self.t)
        v_hat = v / (1 - beta2 ** self.t)
        return x - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019): Adam with weight decay taken out of the gradient.

    x <- x * (1 - lr * weight_decay), then the Adam step with the plain gradient.
    """

    decoupled_weight_decay = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


def _weight_decay(opt, x, g):
    """L2 (g + wd x) or, when decoupled, a shrink of x by (1 - lr wd): returns (x, g)."""
    if opt.weight_decay == 0:
        return x, g
    if opt.decoupled_weight_decay:
        return x * (1 - opt.lr * opt.weight_decay), g
    return x, g + opt.weight_decay * x


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba 2015, section 7): Adam with an infinity norm in place of the RMS.

    g <- g + weight_decay * x
    m <- beta1 * m + (1 - beta1) * g
    u <- max(beta2 * u, |g| + eps)          an exponentially weighted max of |g|
    x <- x - lr / (1 - beta1^t) * m / u
    """

    _state_names = ("m", "u")

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        super().__init__(lr, maximize)

    def _update(self, x, g):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        self.m = beta1 * self.m + (1 - beta1) * g
        self.u = np.maximum(beta2 * self.u, np.abs(g) + self.eps)  # np.maximum keeps NaN
        return x - self.lr / (1 - beta1 ** self.t) * self.m / self.u


class NAdam(Optimizer):
    r"""NAdam (Dozat 2016): Adam with Nesterov momentum, and a momentum that warms up.

    g       <- g + weight_decay * x        (decoupled: x <- x * (1 - lr * weight_decay))
    mu_t    =  beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))      the momentum of step t
    mu_prod <- mu_prod * mu_t                                      (starts at 1)
    m       <- beta1 * m + (1 - beta1) * g
    v       <- beta2 * v + (1 - beta2) * g^2
    d       =  sqrt(v / (1 - beta2^t)) + eps
    x       <- x - lr * (1 - mu_t) / (1 - mu_prod) * g / d
               - lr * mu_(t+1) / (1 - mu_prod * mu_(t+1)) * m / d   the look-ahead at m

    (torch keeps mu_prod in its default dtype, float32 unless changed; ours is float64.)
    """

    _state_names = ("m", "v", "mu_prod")

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nonnegative(momentum_decay, "momentum_decay")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self.momentum_decay, self.decoupled_weight_decay = momentum_decay, decoupled_weight_decay
        super().__init__(lr, maximize)

    def _init_state(self, x):
        self.m, self.v, self.mu_prod = np.zeros_like(x), np.zeros_like(x), 1.0

    def _mu(self, t):
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _update(self, x, g):
        beta1, beta2 = self.betas
        x, g = _weight_decay(self, x, g)
        mu, mu_next = self._mu(self.t), self._mu(self.t + 1)
        self.mu_prod = self.mu_prod * mu
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        d = np.sqrt(self.v / (1 - beta2 ** self.t)) + self.eps
        x = x - self.lr * (1 - mu) / (1 - self.mu_prod) * g / d
        return x - self.lr * mu_next / (1 - self.mu_prod * mu_next) * self.m / d


class RAdam(Optimizer):
    r"""RAdam (Liu et al. 2020): Adam whose adaptive step is switched on only once v is reliable.

    g      <- g + weight_decay * x         (decoupled: x <- x * (1 - lr * weight_decay))
    m      <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g^2
    m_hat  =  m / (1 - beta1^t)
    rho_oo =  2 / (1 - beta2) - 1;   rho_t = rho_oo - 2 t beta2^t / (1 - beta2^t)
    r_t    =  sqrt((rho_t - 4)(rho_t - 2) rho_oo / ((rho_oo - 4)(rho_oo - 2) rho_t))
    x      <- x - lr * m_hat * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)     if rho_t > 5
    x      <- x - lr * m_hat                                                 otherwise (SGD with momentum)
    """

    _state_names = ("m", "v")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, maximize=False):
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self.decoupled_weight_decay = decoupled_weight_decay
        super().__init__(lr, maximize)

    def rho(self, t):
        """rho_t, the length of the moving average that v approximates at step t (rho_oo at t = infinity)."""
        beta2 = self.betas[1]
        rho_inf = 2 / (1 - beta2) - 1
        return rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)

    def _update(self, x, g):
        beta1, beta2 = self.betas
        x, g = _weight_decay(self, x, g)
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        m_hat = self.m / (1 - beta1 ** self.t)
        rho_inf, rho_t = 2 / (1 - beta2) - 1, self.rho(self.t)
        if rho_t <= 5.0:  # too few gradients in v to trust it: a plain momentum step
            return x - self.lr * m_hat
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        return x - self.lr * m_hat * rect * np.sqrt(1 - beta2 ** self.t) / (np.sqrt(self.v) + self.eps)
