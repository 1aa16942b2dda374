"""The JSON files a user hands over (``--config``, ``--space``, ``TF_CONFIG``, a run's
``config.json``), read strictly and within bounds: a size limit, a nesting limit, no key twice, no
integer of thousands of digits (issue 26). Every refusal is a ``ConfigError`` naming the file.

No TensorFlow import.
"""

from __future__ import annotations

import json
from typing import Any

from tf_dpvae.config import ConfigError, RunConfig

# Bounds on a JSON file we read (issue 26): a configuration is a few kB, two levels deep.
MAX_JSON_BYTES = 16 * 2 ** 20
MAX_JSON_DEPTH = 32
MAX_JSON_DIGITS = 100      # an integer longer than this is no setting (and int() of 5,000 digits fails)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``json.loads``'s ``object_pairs_hook``: a dict, or ValueError naming a key given twice (plain
    JSON silently keeps the last)."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {shorten(key, 80)!r} appears twice in one object")
        seen[key] = value
    return seen


def _long_integer(text: str) -> int:
    """``json.loads``'s ``parse_int``, refusing integers longer than ``MAX_JSON_DIGITS``."""
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits (at most "
                         f"{MAX_JSON_DIGITS} accepted)")
    return int(text)


def json_depth_over(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text``'s brackets nest deeper than ``limit`` (strings skipped), checked before
    parsing so that 100,000 nested arrays never reach the recursive parser."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            escaped, in_string = (not escaped and char == "\\"), in_string and (escaped or char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json(text: str, what: str) -> Any:
    """The JSON value of ``text`` (``what``: how to name it, e.g. "--config 'c.json'"); ConfigError
    for a parse error, a key given twice in one object, nesting deeper than ``MAX_JSON_DEPTH``, or an
    integer longer than ``MAX_JSON_DIGITS``."""
    if json_depth_over(text):
        raise ConfigError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels; a configuration is a "
                          f"JSON object of sections")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_long_integer)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what} does not parse as JSON: {err.msg} at line {err.lineno} "
                          f"column {err.colno}") from None
    except (ValueError, RecursionError) as err:   # the hooks' refusals; a float the parser rejects
        raise ConfigError(f"{what} is refused: {shorten(str(err), 200)}") from None


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with "…" (a long value is never echoed whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_json_file(path: str, flag: str) -> Any:
    """The JSON value in ``path`` (``parse_json``); ConfigError naming ``flag`` and the file if it
    cannot be read, is larger than ``MAX_JSON_BYTES``, is not UTF-8, or is refused by ``parse_json``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{flag} {path!r} cannot be read: {err.strerror or err}") from None
    if len(data) > MAX_JSON_BYTES:
        raise ConfigError(f"{flag} {path!r} is larger than {MAX_JSON_BYTES // 2 ** 20} MiB; a "
                          f"configuration is a few kB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:   # binary garbage, a damaged file
        raise ConfigError(f"{flag} {path!r} is not UTF-8 text (byte {err.start}); it is not a JSON "
                          f"file, or it is damaged") from None
    return parse_json(text, f"{flag} {path!r}")


def read_config_file(path: str) -> RunConfig:
    """The ``RunConfig`` a JSON file holds (a run's ``config.json``, a tuner's ``best_config.json``).

    Sections and keys may be partial: what the file leaves out keeps its default. Raises ConfigError,
    naming the file and the problem, if it cannot be read, does not parse, is not a JSON object of
    sections, or holds an unknown key or a bad value.
    """
    values = read_json_file(path, "--config")
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path!r} must hold a JSON object of sections, got "
                          f"{type(values).__name__}")
    for name, section in values.items():
        if not isinstance(section, dict):
            raise ConfigError(f"--config {path!r}: section {name!r} must be a JSON object, "
                              f"got {type(section).__name__}")
    try:
        return RunConfig.from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"--config {path!r}: {err}") from None
    except TypeError as err:  # a field given a value of the wrong kind the validators don't expect
        raise ConfigError(f"--config {path!r}: {err}") from None
