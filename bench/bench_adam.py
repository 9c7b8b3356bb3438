"""Benchmark: lrcourse.torch_optim.Adam against torch.optim.Adam (default and foreach).

Reports, side by side in one run:

1. the time of one ``optimizer.step()`` on a ~1.1M-parameter MLP (gradients
   already in place), median over many repetitions;
2. the time of one training epoch (forward, backward, step) on scikit-learn's
   bundled handwritten-digits data set (1797 images of 8x8 pixels, no download),
   median over several epochs, the optimizers taking turns so that drift in
   the machine's speed affects all alike.

The target is our epoch within 1.15x of torch's. Run from the repository root::

    python bench/bench_adam.py            # the full benchmark (about a minute on 2 cores)
    python bench/bench_adam.py --quick    # a few seconds: checks that it runs
"""

import argparse
import statistics
import time

import torch
from sklearn.datasets import load_digits

import lrcourse
from lrcourse import torch_optim

OPTIMIZERS = {
    "lrcourse.torch_optim.Adam": lambda params: torch_optim.Adam(params, lr=1e-3),
    "torch.optim.Adam (default)": lambda params: torch.optim.Adam(params, lr=1e-3),
    "torch.optim.Adam (foreach)": lambda params: torch.optim.Adam(params, lr=1e-3, foreach=True),
}


def make_mlp(hidden, device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10),
    )
    return model.to(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(make_optimizer, hidden, device, repeats):
    model = make_mlp(hidden, device)
    opt = make_optimizer(model.parameters())
    x = torch.randn(128, 64, device=device)
    torch.nn.functional.cross_entropy(model(x), torch.randint(0, 10, (128,), device=device)).backward()
    for _ in range(5):  # warm up: state allocation, first-call overheads
        opt.step()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        opt.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_data(device):
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32, device=device)
    y = torch.tensor(digits.target, dtype=torch.long, device=device)
    return x, y


def time_epoch(make_optimizer, hidden, data, batch_size, state):
    """One epoch; ``state`` keeps each optimizer's model between its turns."""
    x, y = data
    if "model" not in state:
        state["model"] = make_mlp(hidden, x.device)
        state["opt"] = make_optimizer(state["model"].parameters())
        state["generator"] = torch.Generator().manual_seed(0)
    model, opt = state["model"], state["opt"]
    order = torch.randperm(len(x), generator=state["generator"]).to(x.device)
    sync(x.device)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        batch = order[i:i + batch_size]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        opt.step()
    sync(x.device)
    state["loss"] = loss.item()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--hidden", type=int, default=1024, help="width of the two hidden layers")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    hidden, step_repeats, epochs = (args.hidden, 200, 7) if not args.quick else (64, 10, 2)

    device = lrcourse.get_device()
    n_params = sum(p.numel() for p in make_mlp(hidden, device).parameters())
    data = load_data(device)
    print(lrcourse.describe_device())
    print(f"MLP 64-{hidden}-{hidden}-10: {n_params:,} parameters; torch threads: {torch.get_num_threads()}")
    print(f"data: scikit-learn digits, {len(data[0])} samples, batch {args.batch_size}, "
          f"{-(-len(data[0]) // args.batch_size)} steps per epoch\n")

    steps = {name: time_steps(make, hidden, device, step_repeats) for name, make in OPTIMIZERS.items()}
    states = {name: {} for name in OPTIMIZERS}
    epoch_times = {name: [] for name in OPTIMIZERS}
    for _ in range(epochs):  # take turns, epoch by epoch
        for name, make in OPTIMIZERS.items():
            epoch_times[name].append(time_epoch(make, hidden, data, args.batch_size, states[name]))
    epochs_median = {name: statistics.median(times) for name, times in epoch_times.items()}

    ours = "lrcourse.torch_optim.Adam"
    print(f"{'optimizer':30s} {'step (ms)':>10s} {'epoch (ms)':>11s} {'ours/this epoch':>16s} {'final loss':>11s}")
    for name in OPTIMIZERS:
        ratio = epochs_median[ours] / epochs_median[name]
        print(f"{name:30s} {1e3 * steps[name]:10.3f} {1e3 * epochs_median[name]:11.1f} {ratio:16.3f} "
              f"{states[name]['loss']:11.4f}")
    fastest = min((name for name in OPTIMIZERS if name != ours), key=epochs_median.get)
    ratio = epochs_median[ours] / epochs_median[fastest]
    verdict = "within" if ratio <= 1.15 else "OUTSIDE"
    print(f"\nour epoch is {ratio:.3f}x the fastest torch epoch ({fastest}): {verdict} the 1.15x target")
    return ratio


if __name__ == "__main__":
    main()
