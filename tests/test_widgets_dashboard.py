"""The training dashboard (chapter 12), driven from Python: every control, the synchronous and the threaded run,
the stop button, divergence, errors. Behaviour only: no assertion on wall-clock time."""

import threading

import numpy as np
import pytest

from lrcourse import training
from lrcourse.widgets.dashboard import BATCH_SIZES, MODELS, training_dashboard


@pytest.fixture
def dash():
    return training_dashboard(epochs=3)


def test_nothing_trains_at_display(dash):
    assert dash.history is None and not dash.running
    assert "Nothing trained yet" in dash.status.value
    assert dash.image.value                      # an empty picture is drawn
    assert not dash.train_button.disabled and dash.stop_button.disabled


def test_run_trains_every_epoch_and_draws_the_curves(dash):
    history = dash.run()
    assert history.done == 3 and len(history.val_loss) == 4 and history.diverged_at is None
    assert history.train_loss[-1] < history.train_loss[0]
    assert dash.progress.value == 3 and dash.progress.max == 3
    assert "3 epochs: train loss" in dash.status.value and "validation accuracy" in dash.status.value
    train_line = dash.fig.axes[0].lines[0]
    assert len(train_line.get_xdata()) == 4
    assert not dash.running and not dash.train_button.disabled and dash.stop_button.disabled


def test_the_dashboard_run_equals_the_library_loop(dash):
    """What the dashboard trains is training.epochs with the chosen optimizer, schedule and batches."""
    import torch

    from lrcourse import nets, torch_optim

    dash.controls["optimizer"].value = "SGD, momentum 0.9"
    dash.controls["lr"].value = 0.05
    dash.controls["schedule"].value = "cosine"
    dash.controls["batch_size"].value = 64
    dash.controls["seed"].value = 3
    history = dash.run()
    problem = nets.load("digits")
    net = training.mlp(problem.sizes, 3)
    opt = training.make_optimizer("SGD, momentum 0.9", net.parameters(), 0.05)
    steps = 3 * -(-problem.n // 64)
    sched = torch_optim.ScheduleLR(opt, training.schedule_for("cosine", 0.05, steps))
    expected = training.train(net, problem, opt, 64, 3, sched, seed=3, progress=False)
    assert np.allclose(history.val_loss, expected.val_loss, rtol=1e-5)
    assert torch.is_tensor(problem.X)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_network(dash, model):
    dash.controls["model"].value = model
    dash.controls["epochs"].value = 2
    history = dash.run()
    assert history.done == 2 and np.isfinite(history.val_loss).all(), dash.status.value
    assert model in dash.status.value


@pytest.mark.parametrize("optimizer", list(training.OPTIMIZERS))
def test_every_optimizer(dash, optimizer):
    dash.controls["optimizer"].value = optimizer
    dash.controls["epochs"].value = 1
    history = dash.run()
    assert history.done == 1 and optimizer in dash.status.value, dash.status.value


@pytest.mark.parametrize("schedule", training.SCHEDULE_KINDS)
def test_every_schedule_reaches_the_optimizer(dash, schedule):
    dash.controls["schedule"].value = schedule
    dash.controls["lr"].value = 0.01
    dash.controls["epochs"].value = 4
    history = dash.run()
    expected = [training.schedule_for(schedule, 0.01, 4 * 43)(43 * k) for k in range(5)]
    assert np.allclose(history.lr, expected), (history.lr, expected)
    assert f"({schedule})" in dash.status.value


def test_batch_size_and_seed_change_the_run(dash):
    first = dash.run().val_loss[-1]
    dash.controls["batch_size"].value = BATCH_SIZES[-1]
    assert "Changed since: batch_size" in dash.status.value      # said, not trained
    assert dash.history.val_loss[-1] == first
    second = dash.run().val_loss[-1]
    dash.controls["seed"].value = 5
    third = dash.run().val_loss[-1]
    assert len({first, second, third}) == 3


def test_a_too_large_lr_is_named_diverged(dash):
    dash.controls["optimizer"].value = "SGD"
    dash.controls["lr"].value = 10.0
    history = dash.run()
    assert history.diverged_at == 1
    assert "diverged at epoch 1" in dash.status.value and "smaller lr" in dash.status.value
    assert dash.fig.axes[0].lines[2].get_xdata()[0] == 1       # the X where it blew up
    assert "diverged at epoch 1" in dash.fig.texts[0].get_text()


def test_stop_during_a_synchronous_run(dash):
    dash.controls["epochs"].value = 50
    dash.on_epoch.append(lambda h: h.done == 2 and dash.stop_button.click())
    history = dash.run()
    assert history.done == 2 and history.stopped_at == 2
    assert "stopped after epoch 2" in dash.status.value


def test_the_buttons_train_in_a_thread_and_stop_it(dash):
    dash.controls["epochs"].value = 100
    dash.controls["model"].value = "digits: CNN"
    first_epoch, release = threading.Event(), threading.Event()

    def hook(history):
        first_epoch.set()
        release.wait(30)           # hold the thread after epoch 1 until the test has clicked

    dash.on_epoch.append(hook)
    dash.train_button.click()
    assert first_epoch.wait(60)
    assert dash.running and dash.train_button.disabled and not dash.stop_button.disabled
    dash.train_button.click()                              # a second click while training is refused
    assert "Already training" in dash.status.value
    dash.stop_button.click()
    release.set()
    assert dash.wait(60)
    assert not dash.running and dash.history.stopped_at == 1 and dash.history.done == 1
    assert "stopped after epoch 1" in dash.status.value
    assert not dash.train_button.disabled and dash.stop_button.disabled
    dash.on_epoch.clear()
    dash.controls["epochs"].value = 2
    assert dash.start() is not None and dash.wait(60)         # and it trains again afterwards
    assert dash.history.done == 2 and dash.history.stopped_at is None


def test_an_error_goes_to_the_status_line(dash, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the optimizer could not be built")

    monkeypatch.setattr(training, "make_optimizer", broken)
    assert dash.run() is None
    assert "Could not train: RuntimeError: the optimizer could not be built" in dash.status.value
    assert not dash.running and not dash.train_button.disabled


def test_an_error_in_the_thread_goes_to_the_status_line(dash, monkeypatch):
    monkeypatch.setattr(training, "digits_cnn", lambda *a, **k: 1 / 0)
    dash.controls["model"].value = "digits: CNN"
    dash.start()
    assert dash.wait(60)
    assert "ZeroDivisionError" in dash.status.value and not dash.running


def test_changing_controls_while_training_keeps_the_run(dash):
    dash.controls["epochs"].value = 3
    dash.on_epoch.append(lambda h: h.done == 1 and setattr(dash.controls["lr"], "value", 0.5))
    history = dash.run()
    assert history.done == 3 and dash.settings["lr"] == pytest.approx(1e-3)
    assert "Changed since: lr" in dash.status.value


def test_it_trains_on_the_course_device(dash):
    from lrcourse import get_device

    dash.run()
    assert dash.device == get_device()
    assert dash.data("digits").X.device.type == get_device().type


# ------------------------------------------------------------------ unstable runs are named, never hidden
def _set(dash, model, optimizer, lr, epochs, schedule="constant"):
    dash.controls["model"].value = model
    dash.controls["optimizer"].value = optimizer
    dash.controls["lr"].value = lr
    dash.controls["epochs"].value = epochs
    dash.controls["schedule"].value = schedule


@pytest.mark.parametrize("model, optimizer, lr, epochs", [
    ("cancer: logistic regression", "Adam", 10.0, 3),        # training 7x, validation 8-24x its start; no blow-up
    ("cancer: logistic regression", "RMSprop", 10.0, 2),
    ("wine: MLP 13-16-3", "Adamax", 10.0, 2),                 # validation loss in the hundreds
    ("wine: MLP 13-16-3", "RAdam", 10.0, 2),
    ("digits: MLP 64-32-10", "Adam", 1.0, 2),                 # 56x its start at epoch 1, accuracy 84%
])
def test_runs_that_blow_up_without_diverging_are_named_unstable(dash, model, optimizer, lr, epochs):
    _set(dash, model, optimizer, lr, epochs)
    history = dash.run()
    assert history.diverged_at is None and history.unstable_at == 1
    assert history.worst_rise > training.UNSTABLE
    assert "unstable from epoch 1" in dash.status.value and "smaller" in dash.status.value
    assert "UNSTABLE from epoch 1" in dash.fig.texts[0].get_text()


def test_a_steady_run_is_not_named_unstable(dash):
    _set(dash, "digits: MLP 64-32-10", "Adam", 0.01, 3)
    history = dash.run()
    assert history.unstable_at is None and "unstable" not in dash.status.value.lower()
    assert "UNSTABLE" not in dash.fig.texts[0].get_text()


def test_large_losses_grow_the_axis_instead_of_being_clipped(dash):
    _set(dash, "wine: MLP 13-16-3", "Adamax", 10.0, 3)        # validation loss 276-686
    history = dash.run()
    top = dash.fig.axes[0].get_ylim()[1]
    assert top >= max(history.val_loss) and top <= 1e6
    val_line = dash.fig.axes[0].lines[1]
    assert np.allclose(val_line.get_ydata(), history.val_loss)    # drawn as they are
    assert len(dash.fig.axes[0].lines[3].get_xdata()) == 0         # nothing off the scale


def test_losses_beyond_the_ceiling_are_marked(dash, monkeypatch):
    from lrcourse.widgets import dashboard as module

    monkeypatch.setattr(module, "LOSS_CEILING", 100.0)
    _set(dash, "wine: MLP 13-16-3", "Adamax", 10.0, 3)
    history = dash.run()
    assert dash.fig.axes[0].get_ylim()[1] == 100.0
    marked = dash.fig.axes[0].lines[3].get_xdata()
    expected = [i for v in (history.train_loss, history.val_loss) for i, x in enumerate(v) if x > 100.0]
    assert sorted(marked) == sorted(expected) and len(expected) > 0


def test_a_diverged_run_also_says_since_when_it_was_unstable(dash):
    _set(dash, "digits: MLP 64-32-10", "SGD, momentum 0.9", 0.2, 20)
    history = dash.run()      # seed 0: unstable from epoch 5, diverged in 11 (one thread; a few epochs later or
    d, u = history.diverged_at, history.unstable_at           # sooner with more threads: the run is chaotic)
    assert d is not None and u is not None and u < d
    assert f"diverged at epoch {d}; unstable from epoch {u}" in dash.status.value
    assert f"unstable from epoch {u}" in dash.fig.texts[0].get_text()


def test_a_run_leaves_the_global_random_state_alone(dash):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    dash.run()
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(123)
    dash.start()
    assert dash.wait(60)
    assert torch.equal(torch.rand(3), expected)
