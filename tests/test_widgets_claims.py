"""Chapter 13's claims explorer: every control changes the picture or the status, divergence is named with its step,
and no combination of settings raises (the explorer shows a message instead)."""

import itertools

import pytest

from lrcourse.widgets.claims import CLAIM_PROBLEMS, CLAIMS, claims_explorer


@pytest.fixture
def w():
    return claims_explorer(steps=50, seeds=2)


def test_it_draws_and_names_a_verdict(w):
    assert w.image.value and "window" in w.status.value
    assert "Could not draw" not in w.status.value


@pytest.mark.parametrize("name, value", [("steps", 200), ("seeds", 4), ("lr_range", (-3.0, 0.0)),
                                         ("optimizers", ("SGD", "AdaGrad")), ("problem", "digits, logistic")])
def test_every_control_changes_the_picture(w, name, value):
    before_status, before_image = w.status.value, w.image.value
    w.controls[name].value = value
    assert w.image.value != before_image or w.status.value != before_status
    assert "Could not draw" not in w.status.value


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_each_claim_reruns_its_own_experiment(w, claim):
    if claim == w.controls["claim"].value:
        w.controls["claim"].value = "1: faster"
    before = w.image.value
    w.controls["claim"].value = claim
    assert w.controls["problem"].value in CLAIM_PROBLEMS[claim]
    assert w.image.value != before and "Could not draw" not in w.status.value
    words = {"1: faster": "lowest tuned loss", "2: less tuning": "window", "3: escape": "most escapes",
             "4: generalize": "test error"}[claim]
    assert words in w.status.value


def test_divergence_is_named_with_its_step(w):
    with w.hold():
        w.controls["optimizers"].value = ("SGD",)
        w.controls["lr_range"].value = (-1.0, 1.0)
    assert "SGD diverged at step" in w.status.value


def test_no_optimizer_gives_a_message(w):
    w.controls["optimizers"].value = ()
    assert "pick at least one optimizer" in w.status.value


def test_no_combination_raises():
    w = claims_explorer(steps=10, seeds=1)
    for claim, opts, lr_range in itertools.product(CLAIMS, [("SGD",), ("RMSprop", "Adam")], [(-4.0, -4.0), (0.5, 1.0)]):
        w.controls["claim"].value = claim          # its reaction offers the claim's problems
        with w.hold():
            w.controls["optimizers"].value = opts
            w.controls["lr_range"].value = lr_range
        for problem in CLAIM_PROBLEMS[claim]:
            w.controls["problem"].value = problem
            assert "Could not draw" not in w.status.value, (claim, opts, lr_range, problem, w.status.value)
            assert w.image.value


def test_review_fixes_wilson_blowup_named_and_untrained_runs_noted():
    w = claims_explorer(claim="4: generalize", problem="Wilson et al. (n = 30, p = 0.75)", optimizers=("SGD",),
                        steps=100, seeds=2)
    with w.hold():
        w.controls["lr_range"].value = (-1.0, 1.0)     # lr 1 and above blow up (about 1e270 at 1.78, still finite)
    assert "SGD diverged" in w.status.value and "lowest training loss" in w.status.value
    w = claims_explorer(claim="2: less tuning", problem="digits, logistic", optimizers=("SGD",), steps=5, seeds=1)
    assert "note" in w.status.value and "too few steps" in w.status.value
    w = claims_explorer(claim="3: escape", problem="two basins", optimizers=("RMSprop",), steps=100, seeds=1)
    assert "escapes that stay" in w.status.value
