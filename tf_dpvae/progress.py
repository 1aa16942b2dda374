"""The library's progress bars, which a command's ``--no-progress`` turns off at any time.

tqdm reads ``TQDM_DISABLE`` once, when it is first imported (its keyword defaults come from the
environment then: ``tqdm.utils.envwrap``), so setting the variable later (``cli.parsing.progress_bars``
does, around a command) is missed whenever something imported tqdm first: TensorFlow Datasets, keras-
tuner, an earlier command in the same process. ``bar`` reads the variable each time a bar is made.
No TensorFlow import.
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

OFF_VALUES = ("1", "true", "yes", "on")   # TQDM_DISABLE values that turn bars off (case-insensitive)


def bars_disabled() -> bool:
    """Whether ``TQDM_DISABLE`` is set, now, to one of ``OFF_VALUES``."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in OFF_VALUES


def bar(iterable=None, disable: bool = False, **options):
    """``tqdm(iterable, **options)``, off when ``disable`` or ``bars_disabled()``."""
    return tqdm(iterable, disable=disable or bars_disabled(), **options)
