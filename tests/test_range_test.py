"""The range test against torch-lr-finder 0.2.2, side by side, and fastai's suggestion rules on curves
whose answers are known by hand."""

import contextlib
import io

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch.utils.data import DataLoader, TensorDataset

from lrcourse.range_test import RULES, RangeTest, lr_sequence, minimum, range_test, slide, steep, steepest, valley

matplotlib.use("Agg")
torch_lr_finder = pytest.importorskip("torch_lr_finder")


def digits(dtype):
    X, y = load_digits(return_X_y=True)
    return TensorDataset(torch.tensor(X / 16.0, dtype=dtype), torch.tensor(y))


def cancer(dtype):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return TensorDataset(torch.tensor(X, dtype=dtype), torch.tensor(y))


def setup(seed, data="digits", optimizer="sgd", dtype=torch.float64, lr=1e-4, groups=1):
    """The same model, optimizer and shuffled loader every time for the same arguments."""
    dataset = digits(dtype) if data == "digits" else cancer(dtype)
    inputs = dataset.tensors[0].shape[1]
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(inputs, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).to(dtype)
    if groups == 1:
        params = model.parameters()
    else:  # two param groups with different lrs: both tests record the first group's lr
        params = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": lr * 3}]
    opt = {"sgd": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
           "adam": lambda: torch.optim.Adam(params, lr=lr),
           "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr)}[optimizer]()
    loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return model, opt, loader


def reference(seed, data="digits", optimizer="sgd", dtype=torch.float64, lr=1e-4, groups=1, skip=(10, 5), **kwargs):
    """torch-lr-finder's history and plot(suggest_lr=True) suggestion (None if too short to suggest)."""
    import matplotlib.pyplot as plt

    model, opt, loader = setup(seed, data, optimizer, dtype, lr, groups)
    finder = torch_lr_finder.LRFinder(model, opt, torch.nn.CrossEntropyLoss())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, **kwargs)
        fig, ax = plt.subplots()
        try:
            _, suggestion = finder.plot(skip_start=skip[0], skip_end=skip[1], ax=ax, suggest_lr=True)
        except RuntimeError:
            suggestion = None
        plt.close(fig)
    return finder.history, suggestion


def ours(seed, data="digits", optimizer="sgd", dtype=torch.float64, lr=1e-4, groups=1, **kwargs):
    model, opt, loader = setup(seed, data, optimizer, dtype, lr, groups)
    return range_test(model, opt, torch.nn.CrossEntropyLoss(), loader, **kwargs)


CASES = [  # (seed, data, optimizer, dtype, lr, groups, range_test kwargs)
    (0, "digits", "sgd", torch.float64, 1e-4, 1, dict(end_lr=10.0, num_iter=100)),                  # stops early
    (1, "digits", "sgd", torch.float64, 1e-4, 1, dict(end_lr=1.0, num_iter=80, step_mode="linear")),
    (2, "digits", "adam", torch.float64, 1e-5, 1, dict(end_lr=100.0, num_iter=200)),               # stops early
    (3, "digits", "adam", torch.float32, 1e-5, 1, dict(end_lr=1.0, num_iter=60)),
    (4, "cancer", "rmsprop", torch.float64, 1e-4, 1, dict(start_lr=1e-6, end_lr=1.0, num_iter=120, smooth_f=0.2)),
    (5, "cancer", "sgd", torch.float64, 1e-4, 2, dict(end_lr=5.0, num_iter=90, step_mode="linear", smooth_f=0)),
    (6, "digits", "sgd", torch.float64, 1e-4, 1, dict(end_lr=10.0, num_iter=150, diverge_th=2.0)),  # stops early
    (7, "digits", "sgd", torch.float32, 1e-3, 2, dict(start_lr=1e-5, end_lr=10.0, num_iter=100)),
]


STOPS_EARLY = {0, 2, 4, 5, 6}   # the cases whose test ends at divergence; the others run every iteration


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-{c[1]}-{c[2]}")
def test_the_numbers_of_torch_lr_finder(case):
    seed, data, optimizer, dtype, lr, groups, kwargs = case
    history, suggestion = reference(seed, data, optimizer, dtype, lr, groups, **kwargs)
    result = ours(seed, data, optimizer, dtype, lr, groups, **kwargs)
    assert len(result.lrs) == len(history["lr"]) == len(result.losses) == len(history["loss"])
    np.testing.assert_allclose(result.lrs, history["lr"], rtol=1e-9)
    np.testing.assert_allclose(result.losses, history["loss"], rtol=1e-5)
    assert result.diverged == (len(result.lrs) < kwargs["num_iter"]) == (seed in STOPS_EARLY)
    if suggestion is not None:
        assert result.suggestion() == pytest.approx(suggestion, rel=1e-9)


@pytest.mark.parametrize("skip", [(0, 0), (5, 0), (20, 10)])
def test_the_suggestion_with_other_skips(skip):
    history, suggestion = reference(0, skip=skip, end_lr=10.0, num_iter=100)
    assert ours(0, end_lr=10.0, num_iter=100).suggestion(*skip) == pytest.approx(suggestion, rel=1e-9)


def test_the_lr_sequence_is_torch_lr_finders_schedules():
    np.testing.assert_allclose(lr_sequence(1e-7, 10, 100), np.geomspace(1e-7, 10, 100), rtol=1e-12)
    np.testing.assert_allclose(lr_sequence(0.01, 1, 50, "linear"), np.linspace(0.01, 1, 50), rtol=1e-12)


def test_model_and_optimizer_are_restored():
    model, opt, loader = setup(0, optimizer="adam", lr=1e-5)
    for x, y in loader:  # give the optimizer a state first
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        break
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    exp_avg = [opt.state[p]["exp_avg"].clone() for p in model.parameters()]
    range_test(model, opt, torch.nn.CrossEntropyLoss(), loader, end_lr=10.0, num_iter=50)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(a, opt.state[p]["exp_avg"]) for a, p in zip(exp_avg, model.parameters()))
    assert opt.param_groups[0]["lr"] == 1e-5 and not model.training


def test_batches_restart_and_a_list_works_like_a_loader():
    model, opt, loader = setup(0)
    short = [next(iter(DataLoader(digits(torch.float64), batch_size=64)))]  # one batch, used again and again
    result = range_test(model, opt, torch.nn.CrossEntropyLoss(), short, end_lr=0.1, num_iter=30)
    assert len(result.lrs) == 30 and result.losses[-1] < result.losses[0]


def test_a_generator_is_refused_when_it_must_restart():
    model, opt, _ = setup(0)
    batches = (b for b in [next(iter(DataLoader(digits(torch.float64), batch_size=64)))])
    with pytest.raises(ValueError, match="more than once"):
        range_test(model, opt, torch.nn.CrossEntropyLoss(), batches, end_lr=0.1, num_iter=5)


def test_nan_ends_the_test_as_diverged():
    model, opt, loader = setup(0, lr=1.0)
    result = range_test(model, opt, lambda out, y: out.sum() * float("nan"), loader, num_iter=20)
    assert result.diverged and len(result.lrs) == 1


@pytest.mark.parametrize("kwargs, words", [
    (dict(step_mode="cos"), "expected one of (exp, linear), got cos"),
    (dict(num_iter=1), "`num_iter` must be larger than 1"),
    (dict(smooth_f=1.0), "smooth_f is outside the range [0, 1["),
    (dict(smooth_f=-0.1), "smooth_f is outside the range [0, 1["),
    (dict(start_lr=0.0), "Invalid learning rate: 0.0"),
    (dict(end_lr=-1.0), "Invalid end learning rate: -1.0"),
    (dict(diverge_th=0.5), "diverge_th must be at least 1"),
])
def test_invalid_settings_raise_value_errors(kwargs, words):
    model, opt, loader = setup(0)
    with pytest.raises(ValueError) as error:
        range_test(model, opt, torch.nn.CrossEntropyLoss(), loader, **kwargs)
    assert words in str(error.value)


def test_suggestion_errors_follow_torch_lr_finder():
    result = RangeTest(lrs=list(np.geomspace(1e-3, 1, 10)), losses=list(np.linspace(2, 1, 10)), raw_losses=[],
                       diverged=False)
    with pytest.raises(RuntimeError, match="Need at least 17 iterations to suggest a learning rate. Got 10"):
        result.suggestion()
    with pytest.raises(ValueError, match="skip_start cannot be negative"):
        result.suggestion(skip_start=-1)
    with pytest.raises(ValueError, match="expected one of"):
        result.suggest("middle", 0, 0)


# ------------------------------------------------------------------ fastai's rules on curves with known answers
LRS = np.geomspace(1e-4, 1, 41)   # 10 points per decade


def test_minimum_is_a_tenth_of_the_lowest_point():
    losses = (np.log10(LRS) + 1.5) ** 2     # lowest at lr 10^-1.5
    assert minimum(LRS, losses) == pytest.approx(10 ** -1.5 / 10)


def test_steep_and_steepest_find_the_cliff():
    between = 2 - np.tanh(3 * (np.log10(LRS) + 2.05))   # falls fastest between lr 10^-2.1 and 10^-2
    assert steep(LRS, between) == pytest.approx(LRS[19])     # the left end of the steepest segment
    at = 2 - np.tanh(3 * (np.log10(LRS) + 2))             # falls fastest at lr 1e-2 (index 20)
    assert steepest(LRS, at) == pytest.approx(LRS[20])      # central differences: the point itself


def test_valley_is_two_thirds_down_the_longest_fall():
    losses = np.r_[np.full(10, 3.0), np.linspace(3, 1, 22)[1:], np.linspace(1, 4, 11)[1:]]   # flat, fall, rise
    # the longest decreasing subsequence: one flat point then the 21 of the fall, ending at index 30;
    # it "starts" 22 points before (index 8), its middle third begins 7 points in, and the lr is 3 more on
    assert valley(LRS, losses) == pytest.approx(LRS[8 + 7 + 3])


def test_slide_stops_where_the_slopes_agree():
    fall = 3 - np.arange(31) / 12                        # slope -1/12 up to the lowest point, index 30
    losses = np.r_[fall, fall[-1] + np.arange(1, 11)]    # then a rise of 1 per point (divergence)
    # windows of 15 points slide left from the right end while their two ends' slopes differ by more than
    # 0.005; the first window whose both ends lie on the fall ends at 29, and the last one that differed
    # started at 30 - 15 = 15
    assert slide(LRS, losses) == pytest.approx(LRS[15])
    assert slide(LRS, losses, adjust_value=0.5) == pytest.approx(LRS[15] / 2)
    with pytest.raises(ValueError, match="more than lr_diff"):
        slide(LRS[:10], losses[:10])


def test_every_rule_has_a_name():
    assert set(RULES) == {"steepest", "minimum", "steep", "valley", "slide"}


@pytest.mark.parametrize("smooth_f, diverge_th", [(0.05, 5.0), (0.0, 3.0), (0.3, 10.0)])
def test_resmoothing_a_full_run_gives_the_run_with_those_settings(smooth_f, diverge_th):
    full = ours(0, end_lr=10.0, num_iter=100, diverge_th=float("inf"))
    direct = ours(0, end_lr=10.0, num_iter=100, smooth_f=smooth_f, diverge_th=diverge_th)
    again = full.resmoothed(smooth_f, diverge_th)
    assert again.lrs == direct.lrs and again.diverged == direct.diverged
    np.testing.assert_allclose(again.losses, direct.losses, rtol=1e-12)
