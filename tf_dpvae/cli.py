"""Shared pieces of the command-line entry points (no TensorFlow import): the one-line-error parser
and argument types. Entry points import this; nothing imports an entry point."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number > 0, else an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed, a whole number in [0, 2**31), else an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**31), got {text!r}") from None
    if not 0 <= value < 2 ** 31:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**31), got {value}")
    return value
