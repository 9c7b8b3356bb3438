"""Exercise checks: ``check(task_id, answer)`` answers at once, with feedback that names the mistake.

Every task's canonical check lives here, in the library, not in the notebook:
an exercise notebook only calls ``check("01.descend", descend)``.
``grade_namespace(chapter, names)`` runs every check of a chapter on the
definitions found in ``names`` (what the batch grader does in a learner's kernel),
and ``score(chapter, globals())``, the last cell of every exercise notebook,
prints how many tasks pass and which are still to do.
"""

from lrcourse.grading import ch01, ch02, ch03, ch04, ch05, ch06  # noqa: F401  (registers the tasks)
from lrcourse.grading import ch07  # noqa: F401
from lrcourse.grading import ch08  # noqa: F401
from lrcourse.grading import ch09  # noqa: F401
from lrcourse.grading import ch10  # noqa: F401
from lrcourse.grading import ch11  # noqa: F401
from lrcourse.grading import ch12  # noqa: F401
from lrcourse.grading import ch13  # noqa: F401
from lrcourse.grading import ch14  # noqa: F401
from lrcourse.grading.core import MISSING, TASKS, Feedback, check

__all__ = ["check", "require", "TaskNotPassed", "Feedback", "TASKS", "tasks_of", "grade_namespace", "score",
           "score_text"]


def tasks_of(chapter):
    """The tasks of a chapter's exercise ("01"), in order (demonstration checks left out)."""
    return [t for t in TASKS.values() if t.chapter == chapter and t.exercise]


def grade_namespace(chapter, names, seed=None):
    """Run every check of ``chapter`` on the definitions in the dict ``names``."""
    return [check(t.id, names.get(t.name, MISSING), seed=seed) for t in tasks_of(chapter)]


def score_text(feedback):
    """'x of N tasks passed' and, one per line, the tasks still to do with their status."""
    passed = sum(f.passed for f in feedback)
    lines = [f"{passed} of {len(feedback)} tasks passed."]
    todo = [f for f in feedback if not f.passed]
    if todo:
        lines.append("Still to do:")
        for f in todo:
            number, _, name = f.title.partition(": ")
            lines.append(f"  {number} ({name}): {f.status}")
    else:
        lines.append("Every task of this chapter passes: well done.")
    return "\n".join(lines)


def score(chapter, names):
    """Print the score of a chapter's exercise for the definitions in ``names`` (e.g. ``globals()``)."""
    print(score_text(grade_namespace(chapter, dict(names))))


class TaskNotPassed(AssertionError):
    """Raised by ``require`` when a task's check does not pass: its message is the check's feedback."""


def require(task_id, answer):
    """``check``, for graders that score a cell by whether it raises (nbgrader's autograder test cells).

    Shows the same feedback as ``check``; if the task does not pass, raises ``TaskNotPassed`` with that
    feedback as its message, so that the cell scores 0 points and the learner still reads why.
    """
    feedback = check(task_id, answer)
    try:
        from IPython.display import display

        display(feedback)
    except ImportError:  # pragma: no cover - outside IPython
        print(feedback)
    if not feedback.passed:
        raise TaskNotPassed(f"{feedback.status}: {feedback.message}")
    return None
