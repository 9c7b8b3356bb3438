"""The Explorer (controls, status line, picture) and the log-scale loss axes the explorers share."""

import html
import io
import time

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg

__all__ = ["Explorer", "GAP_FLOOR", "positive", "loss_axis", "loss_limits", "show_gaps"]

# The bottom of the loss axes: machine precision relative to a loss of order 1. A loss that falls
# further leaves the picture through its bottom edge; one that underflows to 0 ends there.
GAP_FLOOR = 1e-16


class Explorer(widgets.VBox):
    """Controls + status line + picture; ``update()`` redraws from the controls' values.

    ``draw(explorer, **values)`` updates the figure and returns the status
    message. To redraw fast, the picture is built in three layers:

    - the *frame*: everything that is neither of the two below (axes, ticks,
      labels, a surface's contours ...), drawn in full only when ``draw`` sets
      ``explorer.background_key`` to a value it has not drawn recently (another
      surface, another number of steps ...); the last few frames are kept, so
      going back to one is instant;
    - the *middle*: the artists ``draw`` lists in ``explorer.middle`` (contours
      that change with a slider, for instance), drawn over the frame and kept
      while ``explorer.middle_key`` stays the same;
    - the *dynamic* artists (paths, loss lines, titles), drawn on top every time.
    """

    FRAMES_KEPT = 8

    def __init__(self, controls, fig, draw, dynamic=(), layout_rows=None, reactions=None):
        self.controls = controls
        self.fig = fig
        self._draw = draw
        self.dynamic = list(dynamic)
        self.background_key = None
        self.middle, self.middle_key = [], None
        self._frames = {}        # (background key, figure size) -> pixels, the most recently used last
        self._middle_cache = None  # (frame key, middle key, pixels)
        self._holding = False
        self.render_ms = []
        self.status = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.canvas = FigureCanvasAgg(fig)
        # reactions: control name -> fn(new value), run before the redraw when that control changes, e.g. to
        # set other controls to the defaults of a new surface; the picture is then drawn once, at the end
        self.reactions = dict(reactions or {})
        rows = layout_rows or [list(controls.values())]
        for name, control in controls.items():
            control.observe(lambda change, name=name: self._on_change(name, change), names="value")
        super().__init__([*(widgets.HBox(row) for row in rows), self.status, self.image])
        self.update()

    def _on_change(self, name, change):
        if self._holding:
            return
        if name in self.reactions:
            with self.hold():
                self.reactions[name](change["new"])
        else:
            self.update()

    def hold(self):
        """Context manager: change several controls, redraw once at the end."""
        explorer = self

        class _Hold:
            def __enter__(self):
                explorer._holding = True

            def __exit__(self, *exc):
                explorer._holding = False
                explorer.update()

        return _Hold()

    def quietly(self):
        """Context manager: change controls without a redraw (for ``draw`` itself, to show the values it used)."""
        explorer = self

        class _Quiet:
            def __enter__(self):
                self.was = explorer._holding
                explorer._holding = True

            def __exit__(self, *exc):
                explorer._holding = self.was

        return _Quiet()

    def update(self):
        start = time.perf_counter()
        try:
            values = {name: control.value for name, control in self.controls.items()}
            message = self._draw(self, **values)
            self.status.value = f"<b>{html.escape(message)}</b>"
            self.image.value = self._render()
        except Exception as error:  # a widget must never crash the notebook: say what happened
            self.status.value = (f"<b style='color:#b00'>Could not draw this: "
                                 f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</b>")
        self.render_ms.append(1e3 * (time.perf_counter() - start))

    def _render(self):
        """PNG bytes of the figure: the cached frame, the middle layer over it, the dynamic artists on top."""
        for artist in self.dynamic + self.middle:
            artist.set_animated(True)  # left out of a full draw: the frame has neither
        key = (self.background_key, self.fig.bbox.bounds)
        if key not in self._frames:
            self.canvas.draw()
            self._frames[key] = self.canvas.copy_from_bbox(self.fig.bbox)
            while len(self._frames) > self.FRAMES_KEPT:
                del self._frames[next(iter(self._frames))]
        self._frames[key] = self._frames.pop(key)  # the most recently used goes last
        middle = (key, self.middle_key)
        if self._middle_cache is None or self._middle_cache[0] != middle:
            self.canvas.restore_region(self._frames[key])
            for artist in self.middle:
                self.fig.draw_artist(artist)
            self._middle_cache = (middle, self.canvas.copy_from_bbox(self.fig.bbox))
        self.canvas.restore_region(self._middle_cache[1])
        for artist in self.dynamic:
            self.fig.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        picture = PIL.Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="png", compress_level=1)  # opaque: RGB encodes faster
        return buffer.getvalue()

    def picture(self):
        """The current figure as a full matplotlib render (for saving or static display)."""
        for artist in self.dynamic + self.middle:
            artist.set_animated(False)
        try:
            buffer = io.BytesIO()
            self.fig.savefig(buffer, format="png", dpi=self.fig.dpi)
            return buffer.getvalue()
        finally:
            for artist in self.dynamic + self.middle:
                artist.set_animated(True)


def loss_axis(ax):
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("loss gap f(x_t) - f*")
    loss_limits(ax, 100, 1.0)  # provisional, so that the layout leaves room for the tick labels
    ax.grid(True, which="major", alpha=0.3)
    (line,) = ax.plot([], [], ".-", color="C3", markersize=3)
    return line


def loss_limits(ax, steps, gap0, blowup=1e6):
    """Fixed axes for the loss gap: from machine precision to the blow-up level where a run stops."""
    ax.set_xlim(-0.5, max(steps, 1) + 0.5)
    ax.set_ylim(GAP_FLOOR / 3, 3 * blowup * max(gap0, GAP_FLOOR))


def positive(values):
    """Values for a log axis: exact zeros (a loss that underflowed) become NaN, so the curve ends there.

    Nothing is clamped: a loss below the axis leaves the picture through its bottom edge, as it
    would on paper, instead of lying flat along it as if it had stopped falling.
    """
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


def show_gaps(line, result):
    line.set_data(np.arange(len(result.gaps)), positive(result.gaps))


