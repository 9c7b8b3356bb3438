"""The machinery behind every exercise check.

A *task* is registered with ``@task(...)`` on a checker function. The
checker receives the learner's answer (a function or a value) and a random
generator, calls the answer on randomized inputs through ``call``, and either
returns (pass) or raises ``Fail("what went wrong and why")``. Everything that
can go wrong on the learner's side becomes feedback, never a traceback:

- the placeholder ``raise NotImplementedError`` or an answer left at ``None``
  -> "not attempted yet";
- an exception -> its type, message and the learner's line that raised it;
- an endless loop -> stopped after the task's time limit (SIGALRM);
- an input changed in place, ``None`` returned, the wrong type or shape,
  NaN or inf -> said plainly;
- a wrong result -> compared with a catalogue of known mistakes, each with
  the explanation a teacher would give (``diagnose``).

``check(task_id, answer)`` runs one check and returns a ``Feedback`` that
shows itself as a coloured box in a notebook.
"""

import copy
import html
import math
import numbers
import os
import signal
import sys
import sysconfig
import threading
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Feedback", "Fail", "NotAttempted", "Task", "TASKS", "task", "check", "call", "as_array",
           "as_number", "as_numbers", "first_differing_row", "diagnose", "diagnose_all", "choice", "MISSING",
           "aliased_path", "path_difference", "join"]

MISSING = object()  # the learner's notebook does not define the name at all


class Fail(Exception):
    """The answer is wrong; the message says why, in words for the learner."""


class NotAttempted(Exception):
    """The answer is still the placeholder."""


class _TimeLimit(BaseException):
    """Raised inside the learner's code when the time is up (a BaseException, so
    a bare ``except Exception`` in their code cannot swallow it)."""


@dataclass
class Feedback:
    task: str
    title: str
    status: str  # "passed", "failed", "not attempted" or "error"
    message: str
    points: float
    max_points: float

    @property
    def passed(self):
        return self.status == "passed"

    def __str__(self):
        return f"[{self.status.upper()}] {self.title} ({self.points:g}/{self.max_points:g}): {self.message}"

    __repr__ = __str__

    _COLOURS = {"passed": "#1a7f37", "failed": "#b35900", "not attempted": "#57606a", "error": "#b00020"}
    _SYMBOLS = {"passed": "&#10004;", "failed": "&#10008;", "not attempted": "&#9711;", "error": "&#9888;"}

    def _repr_html_(self):
        colour = self._COLOURS[self.status]
        message = html.escape(self.message).replace("\n", "<br>")
        return (f"<div style='border-left:5px solid {colour};padding:6px 10px;margin:4px 0;"
                f"background:rgba(127,127,127,0.06)'>"
                f"<b style='color:{colour}'>{self._SYMBOLS[self.status]} {html.escape(self.title)}: "
                f"{self.status} ({self.points:g}/{self.max_points:g})</b><br>{message}</div>")


@dataclass
class Task:
    id: str                  # "01.gradient_descent"
    name: str                # the name the exercise notebook defines: "gradient_descent"
    title: str               # "Task 2: gradient descent, the loop"
    checker: object          # checker(answer, rng) -> None or raises Fail / NotAttempted
    kind: str = "function"   # "function" or "value"
    points: float = 1.0
    time_limit: float = 3.0  # seconds for each call of the learner's function
    exercise: bool = True    # False: a demonstration check (notebook 00), not a task of the chapter's exercise

    @property
    def chapter(self):
        return self.id.split(".")[0]


TASKS = {}


def task(id, title, kind="function", points=1.0, time_limit=3.0, exercise=True):
    """Register a checker as the canonical check of task ``id``."""

    def register(checker):
        name = id.split(".", 1)[1]
        TASKS[id] = Task(id=id, name=name, title=title, checker=checker, kind=kind, points=points,
                         time_limit=time_limit, exercise=exercise)
        return checker

    return register


def _with_time_limit(seconds, fn, *args):
    """Run fn(*args), interrupting it after ``seconds`` (main thread on Unix; elsewhere no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        return fn(*args)

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# code that is not the learner's: this package, the standard library, installed packages
_NOT_LEARNER = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                      *(os.path.abspath(sysconfig.get_paths()[key]) + os.sep
                        for key in ("stdlib", "platstdlib", "purelib", "platlib"))})


def _learner_line(tb):
    """The last line of the learner's own code in a traceback: (line number, source)."""
    frames = [f for f in traceback.extract_tb(tb)
              if not os.path.abspath(f.filename or "").startswith(_NOT_LEARNER)]
    if not frames:
        return None
    frame = frames[-1]
    return frame.lineno, (frame.line or "").strip()


def _same(a, b):
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return np.array_equal(a, b, equal_nan=True)
        return a == b
    except Exception:
        return False


_CONTEXT = threading.local()


def _unsolved_helper(tb, fn):
    """The name of the learner's function that raised NotImplementedError, if it is not ``fn`` itself."""
    frames = [f for f in traceback.extract_tb(tb)
              if not os.path.abspath(f.filename or "").startswith(_NOT_LEARNER)]
    if not frames:
        return None
    name = frames[-1].name
    return name if name not in (getattr(fn, "__name__", None), "<lambda>", "<module>") else None


def call(fn, *args, names=None, mutable=()):
    """Call the learner's ``fn(*args)`` safely; return its result or raise Fail/NotAttempted.

    ``names`` are the argument names, used to say which input was changed in
    place; the arguments named in ``mutable`` may be changed in place (as
    torch updates its momentum buffer). The time limit is the current task's.
    """
    if not callable(fn):
        raise Fail(f"expected a function, but got {_kind(fn)}: define it with `def ...`")
    originals = [copy.deepcopy(a) for a in args]
    limit = getattr(_CONTEXT, "time_limit", 3.0)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = _with_time_limit(limit, fn, *args)
    except NotImplementedError:
        helper = _unsolved_helper(sys.exc_info()[2], fn)
        if helper:
            raise Fail(f"your function calls `{helper}`, which still raises NotImplementedError: solve the "
                       f"task that defines `{helper}` first.") from None
        raise NotAttempted() from None
    except _TimeLimit:
        raise Fail(f"your function did not finish within {limit:g} s and was stopped. Is there a loop "
                   f"that never ends (a `while` whose condition never becomes false, or a step count "
                   f"that is never reached)?") from None
    except RecursionError:
        raise Fail("your function called itself without end (RecursionError)") from None
    except Exception as error:
        where = _learner_line(sys.exc_info()[2])
        place = f" at line {where[0]}: `{where[1]}`" if where and where[1] else ""
        raise Fail(f"your function raised {type(error).__name__}: {error}{place}") from None
    for i, (before, after) in enumerate(zip(originals, args)):
        name = names[i] if names else f"argument {i + 1}"
        if name in mutable:
            continue
        if isinstance(after, (np.ndarray, list, dict)) and not _same(before, after):  # data, not e.g. a generator
            raise Fail(f"your function changed its input `{name}` in place. Work on a copy (for example "
                       f"`x = x - lr * g` makes a new array, while `x -= lr * g` overwrites the caller's).")
    return result


_KIND_NAMES = {"ndarray": "a numpy array", "str": "a string", "complex": "a complex number",
               "complex128": "a complex number", "complex64": "a complex number", "NoneType": "None",
               "function": "a function", "int": "an int", "float": "a float", "bool": "a bool",
               "list": "a list", "tuple": "a tuple", "dict": "a dict", "set": "a set", "float64": "a float",
               "float32": "a float", "int64": "an int", "int32": "an int", "bool_": "a bool"}


def _kind(value):
    """'a list', 'a numpy array', 'a complex number' ...: what a value is, in words."""
    if value is None:
        return "None"
    name = type(value).__name__
    return _KIND_NAMES.get(name, f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}")


def _noun(what):
    """How the thing that returned a value is named: a learner's function in backticks (never capitalized)."""
    return f"`{what}`" if what.isidentifier() else what


def _returned(what, value=None):
    """'`lr_window` returned' and, for one of several values, the ' as lo' that follows what it returned."""
    return f"{_noun(what)} returned", (f" as {value}" if value else "")


def _is_complex(result):
    return isinstance(result, complex) or (isinstance(result, (np.ndarray, np.generic))
                                           and np.iscomplexobj(result))


COMPLEX_HINT = ("In Python a negative number raised to a fractional power is complex: (-8.0) ** (1/3) is "
                "(1+1.73j), not -2. Is a base negative somewhere (an abs() missing)?")


def as_array(result, shape=None, what="your function", value=None):
    """The learner's result as a float array of the expected shape, or Fail saying what is off.

    ``what`` names the function that returned it ("descend": shown as `descend`); ``value`` names which of
    its results this is, when it returned several ("the floors").
    """
    returned, as_ = _returned(what, value)
    if result is None:
        raise Fail(f"{returned} None{as_}: did you forget the `return` statement?" if not value else
                   f"{returned} None{as_}; a value was expected there.")
    if _is_complex(result) or (isinstance(result, (list, tuple)) and any(_is_complex(v) for v in result)):
        raise Fail(f"{returned} complex numbers{as_}, but real numbers were expected. {COMPLEX_HINT}")
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{returned} {_kind(result)}{as_}, which is not an array of numbers") from None
    if shape is not None and array.shape != tuple(shape):
        raise Fail(f"{returned} an array of shape {array.shape}{as_}, but shape {tuple(shape)} was expected")
    if np.any(np.isnan(array)):
        raise Fail(f"{returned} NaN (not a number) values{as_}: a 0/0, inf - inf or log of a negative "
                   f"number somewhere?")
    return array


def as_number(result, what="your function", allow_inf=False, value=None):
    """The learner's result as a float, or Fail saying what is off (``what`` and ``value`` as in as_array)."""
    returned, as_ = _returned(what, value)
    if result is None:
        raise Fail(f"{returned} None{as_}: did you forget the `return` statement?" if not value else
                   f"{returned} None{as_}, but a number was expected.")
    if isinstance(result, (bool, np.bool_)):
        raise Fail(f"{returned} a bool ({result}){as_}, but a number was expected")
    if isinstance(result, np.ndarray) and result.size == 1:
        result = result.reshape(-1)[0]
    if type(result).__module__.startswith("torch") and hasattr(result, "numel") and result.numel() == 1:
        result = result.item()  # a one-element tensor, as a number
    if isinstance(result, (tuple, list, np.ndarray)):
        raise Fail(f"{returned} {_kind(result)} of length {len(result)}{as_}, but a single number was expected")
    if _is_complex(result):
        raise Fail(f"{returned} a complex number ({complex(result):.4g}){as_}, but a real number was expected. "
                   f"{COMPLEX_HINT}")
    if not isinstance(result, numbers.Real):
        raise Fail(f"{returned} {_kind(result)}{as_}, but a number was expected")
    number = float(result)
    if math.isnan(number):
        raise Fail(f"{returned} NaN (not a number){as_}: a 0/0 or log of a negative number somewhere?")
    if math.isinf(number) and not allow_inf:
        raise Fail(f"{returned} {number}{as_}, but a finite number was expected")
    return number


def number_answer(answer, name, example, what="the answer"):
    """A value task's answer as a finite float: NotAttempted if None, else Fail naming the variable ``name``
    and an ``example`` of the form expected; ``what`` names the quantity when it is not finite."""
    if answer is None:
        raise NotAttempted()
    if isinstance(answer, str):
        raise Fail(f"set {name} to a number (such as {example}), not the string {answer!r}.")
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise Fail(f"set {name} to one number (such as {example}), not {_short(answer)}.")
    p = float(answer)
    if not math.isfinite(p):
        raise Fail(f"{what} should be a finite number.")
    return p


def as_numbers(result, names, what="your function"):
    """The learner's result as a tuple of len(names) floats (e.g. ``("the lr", "the rate")``)."""
    if result is None:
        raise Fail(f"{_noun(what)} returned None: did you forget the `return` statement?")
    if not isinstance(result, (tuple, list, np.ndarray)) or len(result) != len(names):
        example = ", ".join(name.split()[-1] for name in names)
        raise Fail(f"return {len(names)} numbers ({', '.join(names)}), for example `return {example}`; "
                   f"you returned {_short(result)}.")
    return tuple(as_number(v, what, value=name) for v, name in zip(result, names))


def _short(value, limit=80):
    """repr(value), cut short: a long list is not dumped into a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def join(message, more):
    """Two sentences: no '?.' or '..' where the first already ends with punctuation."""
    message = message.rstrip()
    return f"{message} {more}" if message.endswith((".", "?", "!", ":")) else f"{message}. {more}"


def first_differing_row(result, expected, rtol=1e-9, atol=1e-12):
    """Index of the first row (iterate) where two paths differ."""
    return int(np.argmax(~np.all(np.isclose(result, expected, rtol=rtol, atol=atol), axis=1)))


def aliased_path(result, expected):
    """Rows 1 .. k all equal the last point, which is right: one array appended each time, then changed in place."""
    if result.shape != expected.shape or len(result) < 3:
        return False
    last = result[-1]
    return close(last, expected[-1]) and all(close(row, last) for row in result[1:]) and \
        not all(close(row, last) for row in expected[1:])


ALIASED = ("rows 1 to the end of your path all equal the last point{first}. You appended the same array each "
           "time and then changed it in place (`{x} -= ...` or `{x} += ...` changes the array already in the "
           "list); append a copy, or write `{x} = {x} - ...`, which makes a new array.")


def aliased_message(result, x="x"):
    first = " (the first row too)" if close(result[0], result[-1]) else ""
    return ALIASED.format(first=first, x=x)


def path_difference(result, expected, rule, start="x0"):
    """Where two paths of the same shape part: 'your path matches up to step t ...', or the first row is off."""
    bad = first_differing_row(result, expected)
    if bad == 0:
        return (f"the first row of your path should be the start {start} itself, {np.round(expected[0], 6)}, "
                f"but it is {np.round(result[0], 6)}.")
    return (f"your path matches up to step {bad - 1} (rows 0 to {bad - 1}) and differs from step {bad} on: "
            f"expected {np.round(expected[bad], 6)}, got {np.round(result[bad], 6)}. {rule}")


def close(a, b, rtol=1e-9, atol=1e-12):
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        # NaN matches NaN: a known mistake that overflows does so in the same places as the learner's code
        return a.shape == b.shape and bool(np.all(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
                                                  | ((a == b) & np.isinf(a))))
    except (TypeError, ValueError):
        return False


def diagnose(result, inputs, mistakes, rtol=1e-9, atol=1e-12, same=None):
    """Compare a wrong ``result`` with each known mistake on the same ``inputs``.

    ``mistakes`` is a list of (wrong_function, explanation); the first whose
    output equals the learner's (``close``, or ``same(result, wrong_output)``)
    gives the explanation. Returns None if no known mistake matches.
    """
    for wrong, explanation in mistakes:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected_wrong = wrong(*copy.deepcopy(inputs))
        except Exception:
            continue
        if (same(result, expected_wrong) if same else close(result, expected_wrong, rtol, atol)):
            return explanation
    return None


def diagnose_all(cases, mistakes, rtol=1e-9, atol=1e-12, same=None):
    """The explanation of the first known mistake that reproduces the learner's result in *every* case.

    ``cases`` is a list of (inputs, result). A mistake that matches one case may be another mistake's twin
    there (two mistakes can agree on some inputs), so only one that fits all of them names the mistake: then
    the same code gets the same message whatever the random inputs.
    """
    for wrong, explanation in mistakes:
        if all(diagnose(result, inputs, [(wrong, explanation)], rtol, atol, same) for inputs, result in cases):
            return explanation
    return None


def choice(answer, correct, options, explanations):
    """Check a multiple-choice answer: one of ``options`` (letters), with an explanation per wrong one."""
    if answer is None:
        raise NotAttempted()
    letters = tuple(options)
    listed = ", ".join(repr(o) for o in letters)
    letter = answer.strip().strip("()").strip().lower() if isinstance(answer, str) else None  # "(b)", "b)" too
    if letter not in letters:  # a membership test on the tuple: "" and "ab" are no letter of "abcd"
        if isinstance(answer, str) and len(letter) > 1 and set(letter.replace(",", "").replace(" ", "")) <= set(letters):
            raise Fail(f"answer with one of the letters {listed}: a single letter, as a string (exactly one "
                       f"option is right), not {answer!r}.")
        raise Fail(f"answer with one of the letters {listed} (a string such as {letters[0]!r}), "
                   f"not {_short(answer)}.")
    if letter != correct:
        raise Fail(explanations[letter])


_SHORT_WORDS = {"a", "an", "it", "is", "if", "in", "on", "no", "at", "as", "by", "to", "so", "or", "of"}  # not symbols


def _sentence(message, keep=()):
    """Capitalize the first word, unless it is a symbol such as x or lr, or a name in ``keep``."""
    first = message.split(" ", 1)[0]
    if first in _SHORT_WORDS or len(first) > 2 and first.isalpha() and first.islower() and first not in keep:
        return message[0].upper() + message[1:]
    return message


def check(task_id, answer=MISSING, seed=None):
    """Run the canonical check of ``task_id`` on ``answer``; return (and display) its Feedback."""
    t = TASKS.get(task_id)
    if t is None:
        known = ", ".join(sorted(TASKS))
        return Feedback(task_id, task_id, "error", f"There is no task {task_id!r}; known tasks: {known}.", 0, 0)

    def result(status, message):
        return Feedback(t.id, t.title, status, message, t.points if status == "passed" else 0.0, t.points)

    if answer is MISSING:
        return result("not attempted", f"Not attempted yet: no `{t.name}` is defined. Run the cell that "
                                       f"defines it, then this check.")
    if answer is None or answer is Ellipsis:
        return result("not attempted", f"Not attempted yet: `{t.name}` is still None. Replace it with your answer.")
    rng = np.random.default_rng(seed)
    _CONTEXT.time_limit = t.time_limit
    try:
        message = t.checker(answer, rng)
    except NotAttempted:
        return result("not attempted", "Not attempted yet: replace `raise NotImplementedError` with your code.")
    except Fail as fail:
        return result("failed", _sentence(str(fail), keep=(t.name,)))
    except Exception as error:  # a bug in the checker itself: say so, never show a traceback
        return result("error", f"The check itself failed ({type(error).__name__}: {error}). This is not "
                               f"your fault: please tell your instructor.")
    return result("passed", message or "Correct!")
