"""Exercise checks: ``check(task_id, answer)`` answers at once, with feedback that names the mistake.

Every task's canonical check lives here, in the library, not in the notebook:
an exercise notebook only calls ``check("01.gradient_descent", gradient_descent)``.
``grade_namespace(chapter, names)`` runs every check of a chapter on the
definitions found in ``names`` (what the batch grader does in a learner's kernel).
"""

from lrcourse.grading import ch01, ch02, ch03, ch04, ch05  # noqa: F401  (registers the tasks)
from lrcourse.grading.core import MISSING, TASKS, Feedback, check

__all__ = ["check", "Feedback", "TASKS", "tasks_of", "grade_namespace"]


def tasks_of(chapter):
    """The tasks of a chapter ("01"), in order."""
    return [t for t in TASKS.values() if t.chapter == chapter]


def grade_namespace(chapter, names, seed=None):
    """Run every check of ``chapter`` on the definitions in the dict ``names``."""
    return [check(t.id, names.get(t.name, MISSING), seed=seed) for t in tasks_of(chapter)]
