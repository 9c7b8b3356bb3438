"""The hands-on widgets of the course.

Each factory returns an ``Explorer``: an ipywidgets ``VBox`` of controls, a
status line and a picture. Its state can be driven from Python, which is how
the tests (and instructors' demo scripts) use it::

    w = lr_explorer_1d()
    w.controls["lr"].value = 0.19          # redraws at once
    w.fig.axes[0].get_title()              # 'lr L = 1.90: oscillating ...'
    w.status.value                         # the same, as the learner reads it
    w.render_ms[-1]                        # how long the last redraw took

The picture is a matplotlib figure rendered to PNG into an ``Image`` widget:
it updates in tens of milliseconds, needs no plotting extension, and is kept
with the notebook's saved widget state. Whatever the controls say, a redraw
never raises: a diverging run is drawn up to the step where it flew off and
named "diverged at step k"; an unexpected error is shown in the status line.

One module per family of chapters: ``core`` (the Explorer and the loss axes
they share), ``basics`` (chapters 00-02), ``sgd`` (03-05), ``adaptive`` (06-08), ``race`` (09), ``warmup`` (10), ``practice`` (11), ``dashboard`` (12),
``claims`` (13) and ``lr_free`` (14).
"""

from lrcourse.widgets.adaptive import adadelta_explorer, adagrad_explorer, rmsprop_explorer
from lrcourse.widgets.basics import OPTIMIZERS, contour_explorer, first_step, lr_explorer_1d
from lrcourse.widgets.claims import claims_explorer
from lrcourse.widgets.core import GAP_FLOOR, Explorer
from lrcourse.widgets.dashboard import training_dashboard
from lrcourse.widgets.lr_free import lr_free_explorer
from lrcourse.widgets.practice import RANGE_TEST_PROBLEMS, range_test_explorer
from lrcourse.widgets.race import LR_MODES, race_explorer
from lrcourse.widgets.sgd import BATCH_SIZES, SCHEDULES, momentum_explorer, schedule_explorer, sgd_explorer
from lrcourse.widgets.warmup import warmup_explorer

__all__ = ["Explorer", "GAP_FLOOR", "first_step", "lr_explorer_1d", "contour_explorer", "sgd_explorer",
           "momentum_explorer", "schedule_explorer", "adagrad_explorer", "rmsprop_explorer", "adadelta_explorer", "race_explorer", "range_test_explorer", "warmup_explorer", "training_dashboard",
           "claims_explorer", "lr_free_explorer",
           "OPTIMIZERS",
           "SCHEDULES", "BATCH_SIZES", "LR_MODES", "RANGE_TEST_PROBLEMS"]
