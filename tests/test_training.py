"""lrcourse.training (chapter 12): the stacked trainer equals one loop per copy with torch.optim, for every
optimizer; the epoch loop, its divergence and stop; the CNN, schedules and helpers."""

import numpy as np
import pytest
import torch

from lrcourse import nets, training


@pytest.fixture(scope="module")
def wine64():
    return nets.load("wine", dtype=torch.float64)


def loop(problem, name, lr, seed, steps, batch_size, hidden=None, every=None):
    """One copy, an ordinary loop with torch.optim: the full losses at the recorded steps."""
    sizes = problem.sizes if hidden is None else [problem.sizes[0], hidden, problem.sizes[-1]]
    net = training.mlp(sizes, seed, dtype=problem.X.dtype)
    opt = training.make_optimizer(name, net.parameters(), lr, implementation="torch")
    records = [training.evaluate(net, problem)[:2]]
    for t, idx in enumerate(nets.batches(problem, batch_size, steps, seed), start=1):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(problem.X[idx]), problem.y[idx]).backward()
        opt.step()
        if t % (every or steps) == 0 or t == steps:
            records.append(training.evaluate(net, problem)[:2])
    return np.array(records)


@pytest.mark.parametrize("name", [n for n in training.OPTIMIZERS     # chapter 14's: below
                                  if n not in training.PER_COPY and "schedule-free" not in n])
def test_every_stacked_copy_equals_its_own_torch_loop(wine64, name):
    lrs = [1e-3, 1e-2] if name != "Adadelta" else [0.3, 1.0]
    curves = training.train_stacked(wine64, name, lrs, [0, 1], 25, 16, every=10)
    assert list(curves.steps) == [0, 10, 20, 25]
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 1]):
            expected = loop(wine64, name, lr, seed, 25, 16, every=10)
            assert np.allclose(curves.train_loss[i, j], expected[:, 0], rtol=1e-10, atol=1e-12)
            assert np.allclose(curves.val_loss[i, j], expected[:, 1], rtol=1e-10, atol=1e-12)


def test_stacked_with_other_hidden_units_and_a_subset(wine64):
    small = training.subset(wine64, 40, seed=0)
    assert small.n == 40 and len(small.y_val) == len(wine64.y_val)
    curves = training.train_stacked(small, "Adam", [3e-3], [2], 30, 8, hidden=64)
    expected = loop(small, "Adam", 3e-3, 2, 30, 8, hidden=64)
    assert np.allclose(curves.final("train_loss")[0, 0], expected[-1, 0], rtol=1e-10)


def test_stacked_divergence_is_scored_inf_and_spares_the_others(wine64):
    curves = training.train_stacked(wine64, "SGD", [0.01, 1e4], [0, 1], 30, 16)
    assert np.isinf(curves.final()[1]).all() and (curves.final("val_acc")[1] == 0).all()
    expected = loop(wine64, "SGD", 0.01, 1, 30, 16)
    assert np.allclose(curves.final()[0, 1], expected[-1, 1], rtol=1e-10)
    assert curves.best_lr() == 0.01 and curves.best_lr("val_acc") == 0.01


def test_at_train_loss_reads_the_first_record_below_the_target():
    c = training.Curves("SGD", np.array([0.1]), [0], np.array([0, 10, 20]), np.array([[[2.0, 0.5, 0.1]]]),
                        np.array([[[2.1, 0.7, 0.4]]]), np.array([[[0.1, 0.8, 0.9]]]))
    assert c.at_train_loss(0.6)[0, 0] == 0.7 and c.at_train_loss(0.2, "val_acc")[0, 0] == 0.9
    assert np.isnan(c.at_train_loss(0.05)[0, 0])


def test_the_mlp_is_the_nets_model():
    problem = nets.load("digits")
    for a, b in zip(training.mlp(problem.sizes, 4).parameters(), nets.model(problem, 4).parameters()):
        assert torch.equal(a, b)


def test_the_cnn_takes_the_pixels_as_a_row():
    net = training.digits_cnn(0)
    assert net(torch.zeros(5, 64)).shape == (5, 10)
    assert sum(p.numel() for p in net.parameters()) == 1898


def test_epochs_yields_after_every_epoch_and_can_be_stopped(wine64):
    net = training.mlp(wine64.sizes, 0, dtype=torch.float64)
    opt = training.make_optimizer("Adam", net.parameters(), 1e-2)
    run = training.epochs(net, wine64, opt, 16, 10)
    seen = [h.done for h, _ in zip(run, range(3))]
    run.close()
    assert seen == [1, 2, 3]
    history = training.train(net, wine64, opt, 16, 2, progress=False)
    assert history.done == 2 and history.diverged_at is None and "2 epochs" in history.summary()


def test_divergence_names_the_epoch(wine64):
    net = training.mlp(wine64.sizes, 0, dtype=torch.float64)
    history = training.train(net, wine64, training.make_optimizer("SGD", net.parameters(), 1e3), 16, 5,
                             progress=False)
    assert history.diverged_at == 1 and history.summary() == "diverged at epoch 1"


def test_the_schedules_peak_at_the_lr_and_unknown_names_are_refused():
    for kind in training.SCHEDULE_KINDS:
        lrs = [training.schedule_for(kind, 0.1, 100)(t) for t in range(100)]
        assert max(lrs) == pytest.approx(0.1, rel=1e-3) and min(lrs) >= 0
    assert training.schedule_for("cosine", 0.1, 100)(100) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="expected one of"):
        training.schedule_for("linear", 0.1, 10)
    with pytest.raises(ValueError, match="expected one of"):
        training.make_optimizer("Lion", [torch.zeros(1, requires_grad=True)], 0.1)


def test_invalid_hyperparameters_raise_torchs_errors():
    p = [torch.zeros(2, requires_grad=True)]
    for implementation in ("lrcourse", "torch"):
        with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
            training.make_optimizer("Adam", p, -1.0, implementation)
    with pytest.raises(ValueError, match="between 1 and"):
        training.subset(nets.load("wine"), 0)


def test_an_unstable_run_is_named_and_goes_on():
    """Cancer, Adam at lr 10: the full training loss jumps to 7x its start in epoch 1 but no minibatch blows up."""
    from lrcourse import nets

    problem = nets.load("cancer")
    net = training.mlp(problem.sizes, 0)
    history = training.train(net, problem, training.make_optimizer("Adam", net.parameters(), 10.0), 32, 3,
                             progress=False)
    assert history.diverged_at is None and history.done == 3
    assert history.unstable_at == 1 and history.worst_rise > training.UNSTABLE
    assert history.summary().startswith("unstable from epoch 1 (the training loss rose up to")


def test_a_steady_run_is_not_unstable(wine64):
    net = training.mlp(wine64.sizes, 0, dtype=torch.float64)
    history = training.train(net, wine64, training.make_optimizer("Adam", net.parameters(), 0.01), 16, 3,
                             progress=False)
    assert history.unstable_at is None and history.worst_rise < 1 and "unstable" not in history.summary()


# ------------------------------------------------------------------ chapter 14: the learning-rate-free methods
LR_FREE = ["D-Adapt SGD", "D-Adapt Adam", "Prodigy", "SGD schedule-free", "AdamW schedule-free"]


def reference_loop(problem, name, lr, seed, steps, batch_size, every, schedule=None, **options):
    """One copy with the reference package's class (or torch.optim's), evaluated at x for schedule-free."""
    net = training.mlp(problem.sizes, seed, dtype=problem.X.dtype)
    opt = training.make_optimizer(name, net.parameters(), lr, implementation="torch", **options)
    training.set_mode(opt, "eval")
    records = [training.evaluate(net, problem)[:2]]
    for t, idx in enumerate(nets.batches(problem, batch_size, steps, seed), start=1):
        training.set_mode(opt, "train")
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(t - 1)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(problem.X[idx]), problem.y[idx]).backward()
        opt.step()
        if t % every == 0 or t == steps:
            training.set_mode(opt, "eval")
            records.append(training.evaluate(net, problem)[:2])
    return np.array(records)


@pytest.mark.parametrize("name", LR_FREE)
def test_lr_free_stacked_copies_equal_the_reference_packages(wine64, name):
    """Each copy its own d (D-Adaptation, Prodigy) or its own average x (schedule-free), as one run of the package."""
    lrs = [1.0] if name in training.PER_COPY else [0.01, 0.1]
    lrs = [0.5, 1.0] if name == "Prodigy" else lrs
    options = {"d0": 1e-4} if name in training.PER_COPY else {}
    curves = training.train_stacked(wine64, name, lrs, [0, 1], 25, 16, every=10, **options)
    assert list(curves.steps) == [0, 10, 20, 25]
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 1]):
            expected = reference_loop(wine64, name, lr, seed, 25, 16, 10, **options)
            assert np.allclose(curves.train_loss[i, j], expected[:, 0], rtol=1e-10, atol=1e-12)
            assert np.allclose(curves.val_loss[i, j], expected[:, 1], rtol=1e-10, atol=1e-12)
    assert not np.allclose(curves.train_loss[0, 0], curves.train_loss[0, 1])   # the seeds stay apart
    if name in training.PER_COPY:       # the estimates recorded: d0 at the start, grown since, never shrinking
        assert curves.d.shape == curves.train_loss.shape and (curves.d[..., 0] == 1e-4).all()
        assert (np.diff(curves.d, axis=2) >= 0).all() and (curves.d[..., -1] > 1e-4).all()
    else:
        assert curves.d is None


def test_stacked_cosine_schedule_equals_a_loop_with_the_schedule(wine64):
    curves = training.train_stacked(wine64, "SGD, momentum 0.9", [0.01, 0.1], [3], 30, 16, every=10,
                                    schedule="cosine")
    for i, lr in enumerate([0.01, 0.1]):
        expected = reference_loop(wine64, "SGD, momentum 0.9", lr, 3, 30, 16, 10,
                                  schedule=training.schedule_for("cosine", lr, 30))
        assert np.allclose(curves.val_loss[i, 0], expected[:, 1], rtol=1e-10, atol=1e-12)
    constant = training.train_stacked(wine64, "SGD, momentum 0.9", [0.1], [3], 30, 16)
    assert constant.final()[0, 0] != pytest.approx(curves.final()[1, 0], rel=1e-6)


def test_epochs_evaluates_schedule_free_at_the_average(wine64):
    net = training.mlp(wine64.sizes, 0, dtype=torch.float64)
    opt = training.make_optimizer("SGD schedule-free", net.parameters(), 0.05)
    history = training.train(net, wine64, opt, 16, 2, progress=False)
    assert not opt.param_groups[0]["train_mode"]                     # left at x after the last record
    expected = reference_loop(wine64, "SGD schedule-free", 0.05, 0, 2 * 9, 16, 9)
    assert np.allclose(history.val_loss, expected[:, 1], rtol=1e-10)
