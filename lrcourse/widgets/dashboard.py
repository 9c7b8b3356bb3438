"""Chapter 12: the training dashboard. Pick a network, an optimizer, an lr, a schedule, a batch size and the
epochs; press *train* and watch the training and validation curves grow, epoch by epoch; *stop* ends the run
after the epoch in progress.

Training runs in a background thread, so the kernel stays free to receive the *stop* click (a cell that
trained in the kernel's own thread would hold the click back until it finished). The thread only sets widget
values, which ipywidgets sends from any thread; a lock keeps it and a redraw asked for by a control from
drawing the figure at the same time. Tests and scripts use the synchronous path::

    d = training_dashboard()
    d.controls["lr"].value = 0.1
    d.run()                        # trains in the calling thread, to the end (or to d.stop())
    d.history.val_loss[-1], d.status.value

and ``d.start()`` / ``d.stop()`` / ``d.wait()`` for the threaded one (what the buttons call). Whatever the
controls say, nothing raises: a run whose loss blows up is drawn up to the epoch where it did and named
"diverged at epoch k"; a run whose full training loss rises above ``training.UNSTABLE`` (2) times its value before
training goes on but is named "unstable from epoch k", in the title and the status line; losses beyond the axis
are drawn as triangles on its top edge, never dropped; an error is shown in the status line.
"""

import html
import threading
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse.widgets.core import Explorer

__all__ = ["training_dashboard", "TrainingDashboard", "MODELS", "BATCH_SIZES"]

# label: (problem of lrcourse.nets, network)
MODELS = {
    "digits: MLP 64-32-10": ("digits", "mlp"),
    "digits: CNN": ("digits", "cnn"),
    "cancer: logistic regression": ("cancer", "mlp"),
    "wine: MLP 13-16-3": ("wine", "mlp"),
}
BATCH_SIZES = (4, 8, 16, 32, 64, 128, 256, 512)
LOSS_LIMITS = (1e-4, 30.0)   # the loss axis; it grows (by decades, up to LOSS_CEILING) to show a larger loss
LOSS_CEILING = 1e6           # losses above this, and non-finite ones, are drawn as triangles on the top edge


class TrainingDashboard(Explorer):
    """An Explorer whose picture is the last (or current) training run; buttons train and stop."""

    REDRAW_EVERY_S = 0.2      # while training, the picture is redrawn at most this often (and after the last epoch)

    def __init__(self, controls, fig, draw, dynamic, layout_rows, device=None):
        self.history = None
        self.settings = None              # the values of the controls that the shown run used
        self.running = False
        self.on_epoch = []                # callables(history), called after every epoch (tests use them)
        self.device = device
        self._data = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self.train_button = widgets.Button(description="train", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="stop", button_style="danger", icon="stop", disabled=True)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="epoch 0",
                                            layout=widgets.Layout(width="420px"))
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        super().__init__(controls, fig, draw, dynamic=dynamic, layout_rows=layout_rows)
        buttons = widgets.HBox([self.train_button, self.stop_button, self.progress])
        self.children = [*self.children[:-2], buttons, self.status, self.image]

    # ---------------------------------------------------------------- drawing, safe from any thread
    def update(self):
        with self._lock:
            super().update()

    def say(self, message, error=False):
        style = " style='color:#b00'" if error else ""
        self.status.value = f"<b{style}>{html.escape(message)}</b>"

    # ---------------------------------------------------------------- training
    def data(self, name):
        from lrcourse import nets

        if name not in self._data:
            self._data[name] = nets.load(name, self.device)
        return self._data[name]

    def run(self):
        """Train with the controls' values in the calling thread, to the end or to ``stop()``; never raises."""
        if self.running:
            self.say("Already training: press stop first.")
            return self.history
        self.running = True
        self._stop.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        failed = False
        try:
            self._train({name: control.value for name, control in self.controls.items()})
        except Exception as error:  # a widget must never crash the notebook: say what happened
            failed = True
            self.say(f"Could not train: {type(error).__name__}: {error}", error=True)
        finally:
            self.running = False
            self.train_button.disabled, self.stop_button.disabled = False, True
        if not failed:
            self.update()   # the final picture, and the run's summary in the status line
        return self.history

    def start(self):
        """Train in a background thread (the train button); returns the thread, or None if one is running."""
        if self.running or (self._thread is not None and self._thread.is_alive()):
            self.say("Already training: press stop first.")
            return None
        self.train_button.disabled, self.stop_button.disabled = True, False
        self._thread = threading.Thread(target=self.run, name="training-dashboard", daemon=True)
        self._thread.start()          # alive from here on: a second click is refused above
        return self._thread

    def stop(self):
        """Ask the run to end after the epoch in progress (the stop button)."""
        self._stop.set()
        if self.running:
            self.say("Stopping after this epoch ...")

    def wait(self, timeout=None):
        """Wait for a background run to end; True if none is left running."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _train(self, values):
        import torch

        from lrcourse import torch_optim, training

        torch.set_flush_denormal(True)   # per thread: this one may be the button's (tiny floats are slow on a CPU)
        problem_name, network = MODELS[values["model"]]
        problem = self.data(problem_name)
        seed, batch_size, n_epochs = values["seed"], values["batch_size"], values["epochs"]
        device = problem.X.device
        # the seeds below (torch.manual_seed in the networks' constructors) stay inside: the user's global random
        # state is the same after a run as before it, whichever thread ran it
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            net = (training.digits_cnn(seed, device, problem.X.dtype) if network == "cnn"
                   else training.mlp(problem.sizes, seed, device, problem.X.dtype))
            optimizer = training.make_optimizer(values["optimizer"], net.parameters(), values["lr"])
            steps = n_epochs * -(-problem.n // batch_size)
            scheduler = torch_optim.ScheduleLR(optimizer,
                                               training.schedule_for(values["schedule"], values["lr"], steps))
            self.settings = dict(values)
            self.history = training.History(epochs=n_epochs)
            self.progress.max, self.progress.value, self.progress.description = max(n_epochs, 1), 0, "epoch 0"
            self.say(f"Training {values['model']} with {values['optimizer']}, lr {values['lr']:.3g} "
                     f"({values['schedule']}), batch size {batch_size}, {n_epochs} epochs ...")
            last_draw = time.perf_counter()
            run = training.epochs(net, problem, optimizer, batch_size, n_epochs, scheduler, seed)
            try:
                for history in run:
                    self.history = history
                    self.progress.value, self.progress.description = history.done, f"epoch {history.done}"
                    for hook in self.on_epoch:
                        hook(history)
                    last = history.done == n_epochs or history.diverged_at is not None or self._stop.is_set()
                    if last or time.perf_counter() - last_draw > self.REDRAW_EVERY_S:
                        self.update()
                        last_draw = time.perf_counter()
                    if self._stop.is_set() and history.diverged_at is None and history.done < n_epochs:
                        history.stopped_at = history.done
                        break
            finally:
                run.close()


def training_dashboard(model="digits: MLP 64-32-10", optimizer="Adam", lr=1e-3, schedule="constant",
                       batch_size=32, epochs=20, seed=0, device=None):
    """Notebook 12: train a small network live. Nothing trains until the *train* button (or ``run()``)."""
    from lrcourse import training
    from lrcourse.device import get_device

    controls = {
        "model": widgets.Dropdown(options=list(MODELS), value=model, description="network"),
        "optimizer": widgets.Dropdown(options=list(training.OPTIMIZERS), value=optimizer, description="optimizer"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=1, step=0.1, description="lr",
                                     readout_format=".2e"),
        "schedule": widgets.Dropdown(options=list(training.SCHEDULE_KINDS), value=schedule, description="schedule"),
        "batch_size": widgets.Dropdown(options=list(BATCH_SIZES), value=batch_size, description="batch size"),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=100, description="epochs"),
        "seed": widgets.IntSlider(value=seed, min=0, max=9, description="seed"),
    }
    fig = Figure(figsize=(9.5, 3.6))
    ax_loss, ax_acc = fig.subplots(1, 2)
    (train_line,) = ax_loss.plot([], [], ".-", color="C0", ms=3, label="training")
    (val_line,) = ax_loss.plot([], [], ".-", color="C1", ms=3, label="validation")
    (train_acc,) = ax_acc.plot([], [], ".-", color="C0", ms=3, label="training")
    (val_acc,) = ax_acc.plot([], [], ".-", color="C1", ms=3, label="validation")
    (blown,) = ax_loss.plot([], [], "X", color="C3", ms=10, mec="k", label="diverged")
    (off_scale,) = ax_loss.plot([], [], "^", color="C3", ms=7, mec="k", label="off the scale")
    (unstable_line,) = ax_loss.plot([], [], ":", color="C3", lw=1, label="2 x the start: unstable above")
    ax_loss.set(yscale="log", ylim=LOSS_LIMITS, xlabel="epoch", ylabel="cross-entropy loss")
    ax_acc.set(ylim=(0, 1.02), xlabel="epoch", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right" if ax is ax_loss else "lower right", fontsize=7, ncol=2 if ax is ax_loss else 1)
    title = fig.suptitle(" ", fontsize=10)
    fig.tight_layout()

    def draw(w, model, optimizer, lr, schedule, batch_size, epochs, seed):
        now = dict(model=model, optimizer=optimizer, lr=lr, schedule=schedule, batch_size=batch_size, epochs=epochs,
                   seed=seed)
        h = w.history
        shown = w.settings["epochs"] if (h is not None and w.settings) else epochs
        w.background_key = (shown, LOSS_LIMITS[1])
        for ax in (ax_loss, ax_acc):
            ax.set_xlim(-0.3, max(shown, 1) + 0.3)
        if h is None:
            for line in (train_line, val_line, train_acc, val_acc, blown, off_scale, unstable_line):
                line.set_data([], [])
            ax_loss.set_ylim(*LOSS_LIMITS)
            title.set_text("press train")
            return "Nothing trained yet: choose the settings and press train."
        k = np.arange(len(h.train_loss))
        losses = np.asarray(h.train_loss + h.val_loss, dtype=float)
        finite = losses[np.isfinite(losses)]
        top = LOSS_LIMITS[1]
        if finite.size and finite.max() > top:      # grow the axis by decades rather than flatten a large loss
            top = min(10.0 ** np.ceil(np.log10(finite.max() * 1.5)), LOSS_CEILING)
        ax_loss.set_ylim(LOSS_LIMITS[0], top)
        w.background_key = (shown, top)              # the axis is part of the cached frame
        clip = lambda v: np.clip(np.nan_to_num(np.asarray(v, dtype=float), nan=top,  # noqa: E731
                                               posinf=top), LOSS_LIMITS[0], top)
        train_line.set_data(k, clip(h.train_loss))
        val_line.set_data(k, clip(h.val_loss))
        beyond = [(i, top / 1.3) for v in (h.train_loss, h.val_loss) for i, x in enumerate(v)
                  if not np.isfinite(x) or x > top]
        off_scale.set_data([i for i, _ in beyond], [y for _, y in beyond])
        unstable_line.set_data([0, max(shown, 1)], [training.UNSTABLE * h.train_loss[0]] * 2)
        train_acc.set_data(k, h.train_acc)
        val_acc.set_data(k, h.val_acc)
        s = w.settings
        run = (f"{s['model']}, {s['optimizer']}, lr {s['lr']:.3g} ({s['schedule']}), batch size {s['batch_size']},"
               f" seed {s['seed']}")
        unstable = h.instability()
        if h.diverged_at is not None:
            blown.set_data([h.diverged_at], [top / 1.5])
            title.set_text(f"diverged at epoch {h.diverged_at}" +
                           (f"; unstable from epoch {h.unstable_at}" if h.unstable_at not in (None, h.diverged_at)
                            else ""))
        else:
            blown.set_data([], [])
            state = (f"UNSTABLE from epoch {h.unstable_at} (training loss up to {h.worst_rise:.3g} x its start); "
                     if unstable else "")
            title.set_text(f"{state}epoch {h.done} of {h.epochs}: validation loss {h.val_loss[-1]:.3f}, "
                           f"accuracy {h.val_acc[-1]:.3f}")
        changed = [name for name in s if s[name] != now[name]]
        message = f"{run}: {h.summary()}" if not w.running or h.diverged_at is not None else (
            f"{run}: {unstable + ', ' if unstable else ''}epoch {h.done} of {h.epochs}, training loss "
            f"{h.train_loss[-1]:.3f}, validation loss {h.val_loss[-1]:.3f}")
        if h.diverged_at is not None:
            message += ": the loss blew up, try a smaller lr"
        elif unstable and not w.running:
            message += ". The lr is too large for steady training: try a smaller one"
        if changed and not w.running:
            message += f". Changed since: {', '.join(changed)}; press train to run with them."
        return message

    rows = [[controls["model"], controls["optimizer"], controls["lr"]],
            [controls["schedule"], controls["batch_size"], controls["epochs"], controls["seed"]]]
    return TrainingDashboard(controls, fig, draw, [train_line, val_line, train_acc, val_acc, blown, off_scale,
                                                   unstable_line, title], rows,
                             device=device if device is not None else get_device())
