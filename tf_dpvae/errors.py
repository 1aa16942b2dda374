"""The one base class of bad input from the user, and the one set of checks that raise it (no
imports but ``math``).

Every error that a user can fix by changing an argument, a file or a setting derives from
``UserError``: a bad configuration value, a data set that cannot be loaded, a directory that is not a
run, a classifier or Inception file that does not fit, ... The commands (``tf_dpvae.cli``) print its
message as one line, ``PROG: error: MESSAGE``, and exit with status 2; the message names the bad value
and what is accepted. Anything else is a bug or a failure of the run (e.g. ``TrainingDiverged``, exit 1)
and is not a ``UserError``.

It subclasses ``ValueError`` so that code written against the library's older ``ValueError``
subclasses keeps catching them.

The checks below are what every settings dataclass and layer validates with: each names the
argument and the value received (``NAME must be ..., got VALUE``), and raises the ``UserError``
subclass its caller passes as ``error`` (the module's own: ``ConfigError``, ``EvaluationError``,
...), so that a bad value is reported once, by the class that owns it, and never re-wrapped.
"""

import math

SEED_LIMIT = 2 ** 31   # seeds are int32 values in [0, 2**31): TensorFlow's stateless seeds


class UserError(ValueError):
    """Bad input from the user; the message names the bad value and what is accepted."""


def require(condition: bool, message: str, error: type = UserError) -> None:
    """Raise ``error(message)`` unless ``condition``."""
    if not condition:
        raise error(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int_problem(name: str, value) -> str | None:
    """``NAME must be a positive integer, got V`` unless ``value`` is an integer ≥ 1 (a bool is not);
    None when it is. For callers that return a problem instead of raising it."""
    return None if _is_int(value) and value > 0 else f"{name} must be a positive integer, got {value!r}"


def check_positive_int(name: str, value, error: type = UserError) -> None:
    """``value`` is an integer ≥ 1 (a bool is not), else ``NAME must be a positive integer, got V``."""
    problem = positive_int_problem(name, value)
    require(problem is None, problem, error)


def check_seed(name: str, value, error: type = UserError) -> None:
    """``value`` is an integer in [0, 2**31) (a bool is not)."""
    require(_is_int(value) and 0 <= value < SEED_LIMIT,
            f"{name} must be an integer in [0, 2**31), got {value!r}", error)


def check_count(name: str, value, high: int, low: int = 0, why: str = "",
                error: type = UserError) -> None:
    """An integer in [low, high] (a step or epoch count); ``why`` follows the range."""
    require(_is_int(value) and low <= value <= high,
            f"{name} must be an integer in [{low}, {high:,}]{why}, got {value!r}", error)


def check_int_in(name: str, value, low: int, high: int, why: str = "",
                 error: type = UserError) -> None:
    """As ``check_count``, with the positive-integer message for 0 and below when ``low`` is 1."""
    if low == 1:
        check_positive_int(name, value, error)
    check_count(name, value, high, low, why, error)


def check_finite(name: str, value, minimum: float | None = None, strict: bool = False,
                 error: type = UserError) -> None:
    """A finite number (a bool is not), ≥ ``minimum`` (> with ``strict``) when given."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum}"
    require(ok, f"{name} must be a finite number{bound}, got {value!r}", error)


def check_finite_in(name: str, value, low: float, high: float, strict_low: bool = False,
                    error: type = UserError) -> None:
    """A finite number in [low, high] (or (low, high] with ``strict_low``)."""
    if low == 0.0:
        check_finite(name, value, low, strict=strict_low, error=error)   # the message below the range
    check_finite(name, value, error=error)
    opening = "(" if strict_low else "["
    require((value > low if strict_low else value >= low) and value <= high,
            f"{name} must be a finite number in {opening}{low:g}, {high:g}], got {value!r}", error)


def check_choice(name: str, value, accepted: tuple, error: type = UserError) -> None:
    """``value`` is one of ``accepted``."""
    require(value in accepted, f"{name} must be one of {', '.join(accepted)}; got {value!r}", error)
