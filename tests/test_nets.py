"""lrcourse.nets: the problems, and many networks trained at once, each equal to its own torch.optim run."""

import numpy as np
import pytest
import torch

from lrcourse import nets, schedules


@pytest.mark.parametrize("name, sizes, n", [("digits", [64, 32, 10], 1348), ("cancer", [30, 2], 427),
                                            ("wine", [13, 16, 3], 134)])
def test_the_problems(name, sizes, n):
    problem = nets.load(name, dtype=torch.float64)
    assert problem.sizes == sizes and problem.n == n
    assert torch.allclose(problem.X.mean(0), torch.zeros(sizes[0], dtype=torch.float64), atol=1e-12)
    assert len(problem.y_val) + n == {"digits": 1797, "cancer": 569, "wine": 178}[name]
    assert int(problem.y.max()) + 1 == sizes[-1]


def test_an_unknown_problem_is_named():
    with pytest.raises(ValueError, match="expected one of"):
        nets.load("iris")


def test_batches_shuffle_every_epoch_and_keep_the_short_last_batch():
    problem = nets.load("wine")                      # 134 examples: batches of 32, 32, 32, 32, 6
    plan = nets.batches(problem, 32, 12, seed=3)
    assert [len(b) for b in plan] == [32, 32, 32, 32, 6, 32, 32, 32, 32, 6, 32, 32]
    first, second = torch.cat(plan[:5]), torch.cat(plan[5:10])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(134))
    assert not torch.equal(first, second)
    assert all(torch.equal(a, b) for a, b in zip(plan, nets.batches(problem, 32, 12, seed=3)))


def plain_loop(problem, optimizer, lr, seed, steps, batch_size, schedule=None):
    net = nets.model(problem, seed)
    opt = (torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(net.parameters(), lr=lr))
    scheduler = None if schedule is None else torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    for idx in nets.batches(problem, batch_size, steps, seed):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(problem.X[idx]), problem.y[idx]).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return nets.full_loss(net, problem.X, problem.y), nets.full_loss(net, problem.X_val, problem.y_val)


@pytest.mark.parametrize("name", ["digits", "cancer", "wine"])
@pytest.mark.parametrize("optimizer, lrs", [("sgd", [0.003, 0.05, 0.3]), ("adam", [3e-4, 0.01, 0.05])])
def test_every_copy_equals_its_own_torch_optim_run(name, optimizer, lrs):
    problem = nets.load(name, dtype=torch.float64)
    sweep = nets.train_many(problem, optimizer, lrs, seeds=[0, 7], steps=40, batch_size=32)
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 7]):
            train, val = plain_loop(problem, optimizer, lr, seed, 40, 32)
            assert sweep.loss[i, j] == pytest.approx(train, rel=1e-9)
            assert sweep.val_loss[i, j] == pytest.approx(val, rel=1e-9)


@pytest.mark.parametrize("name", ["digits", "wine"])
@pytest.mark.parametrize("optimizer, lrs", [("sgd", [0.01, 0.3]), ("adam", [1e-3, 0.03])])
@pytest.mark.parametrize("kind", ["warmup-cosine", "cyclic", "lambda"])
def test_a_scheduled_copy_equals_its_torch_optim_run_with_lambda_lr(name, optimizer, lrs, kind):
    schedule = {"warmup-cosine": schedules.warmup(schedules.cosine(1.0, 30), 10, start_factor=0.05),
                "cyclic": schedules.cyclic(0.1, 1.0, step_size_up=7, mode="triangular2"),
                "lambda": lambda t: 1.0 / (1 + t)}[kind]
    problem = nets.load(name, dtype=torch.float64)
    sweep = nets.train_many(problem, optimizer, lrs, seeds=[0, 5], steps=40, batch_size=32, schedule=schedule)
    plain = nets.train_many(problem, optimizer, lrs, seeds=[0, 5], steps=40, batch_size=32)
    assert not np.allclose(sweep.loss, plain.loss)            # the schedule changed something
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 5]):
            train, val = plain_loop(problem, optimizer, lr, seed, 40, 32, schedule=schedule)
            assert sweep.loss[i, j] == pytest.approx(train, rel=1e-9)
            assert sweep.val_loss[i, j] == pytest.approx(val, rel=1e-9)


def test_a_constant_schedule_of_one_changes_nothing():
    problem = nets.load("wine", dtype=torch.float64)
    a = nets.train_many(problem, "adam", [0.01, 0.1], [0, 1], 30, 16, schedule=schedules.constant(1.0))
    b = nets.train_many(problem, "adam", [0.01, 0.1], [0, 1], 30, 16)
    np.testing.assert_array_equal(a.loss, b.loss)


def test_a_diverging_copy_is_inf_and_leaves_the_others_alone():
    problem = nets.load("digits", dtype=torch.float64)
    sweep = nets.train_many(problem, "sgd", [0.01, 1e4], seeds=[0], steps=30, batch_size=32)
    assert np.isinf(sweep.loss[1, 0]) and np.isfinite(sweep.loss[0, 0])
    train, _ = plain_loop(problem, "sgd", 0.01, 0, 30, 32)
    assert sweep.loss[0, 0] == pytest.approx(train, rel=1e-9)
    assert sweep.best == 0.01


def test_an_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="expected one of"):
        nets.train_many(nets.load("wine"), "rmsprop", [0.1], [0], 5, 16)
