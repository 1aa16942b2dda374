"""Command-line flags generated from the configuration dataclasses (no TensorFlow import).

Every field of every ``RunConfig`` section becomes one flag: its name, help text (with the paper's
symbol), ``choices`` and ``--help`` group come from the field's metadata (``config.flag``), its type
and default from the field itself. A field declared without metadata still gets ``--FIELD-NAME`` in
its class's group. Nothing here restates a field or a default.

The parser keeps the dataclass defaults (``--help`` shows them), and records which flags the user
actually gave, so that ``config_from_args`` layers them over a ``--config`` file: defaults, then the
file, then the given flags.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterator, NamedTuple

from tf_dpvae.config import RunConfig, read_config_file

_GIVEN = "_given_config_flags"   # namespace attribute: dests of the config flags the user gave
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


class ConfigFlag(NamedTuple):
    """One generated flag: ``--{option}`` sets ``RunConfig.{section}.{field}``."""

    section: str
    field: str
    option: str        # without the leading dashes, e.g. "flow-blocks"
    kind: type         # int, float, str or bool
    default: Any
    help: str
    choices: tuple | None
    group: str

    @property
    def dest(self) -> str:
        return f"{self.section}.{self.field}"


def config_flags(config_cls: type = RunConfig) -> Iterator[ConfigFlag]:
    """The flags of every field of every section of ``config_cls``, in declaration order."""
    for section in dataclasses.fields(config_cls):
        section_cls = section.default_factory  # type: ignore[misc]
        for field in dataclasses.fields(section_cls):
            meta = field.metadata
            kind = field.type if isinstance(field.type, type) else _TYPES[str(field.type)]
            yield ConfigFlag(
                section=section.name, field=field.name,
                option=(meta.get("flag") or field.name).replace("_", "-"), kind=kind,
                default=field.default, help=meta.get("help") or field.name.replace("_", " "),
                choices=meta.get("choices"),
                group=meta.get("group") or getattr(section_cls, "GROUP", section.name))


def _mark_given(namespace: argparse.Namespace, dest: str) -> None:
    given = set(getattr(namespace, _GIVEN, ()))
    given.add(dest)
    setattr(namespace, _GIVEN, given)


class _StoreGiven(argparse.Action):
    """Store the value and remember that the user gave the flag."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        _mark_given(namespace, self.dest)


class _BooleanGiven(argparse.BooleanOptionalAction):
    """``--X`` / ``--no-X``, remembering that the user gave one of them."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        _mark_given(namespace, self.dest)


def _shown(value: Any) -> str:
    return "''" if value == "" else str(value)


def add_config_flags(parser: argparse.ArgumentParser, run_group: argparse._ActionsContainer | None = None,
                     config_cls: type = RunConfig) -> list[ConfigFlag]:
    """Add one flag per configuration field to ``parser``; return them.

    Flags whose group is ``"run"`` (the objective, the prior, the data set) go to ``run_group``
    (default: the parser's own options); the others to an argument group per ``group``.
    """
    groups: dict[str, Any] = {"run": run_group or parser}
    flags = list(config_flags(config_cls))
    for f in flags:
        if f.group not in groups:
            groups[f.group] = parser.add_argument_group(f.group)
        help_text = f"{f.help} (default: {_shown(f.default)})".replace("%", "%%")
        if f.kind is bool:
            groups[f.group].add_argument(f"--{f.option}", dest=f.dest, action=_BooleanGiven,
                                         default=f.default, help=help_text)
        else:
            groups[f.group].add_argument(
                f"--{f.option}", dest=f.dest, action=_StoreGiven, type=f.kind, default=f.default,
                choices=f.choices, help=help_text,
                metavar=None if f.choices else f.option.upper().replace("-", "_"))
    return flags


def given_flags(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The configuration fields the user set on the command line: ``{section: {field: value}}``."""
    sections: dict[str, dict[str, Any]] = {}
    for dest in sorted(getattr(args, _GIVEN, ())):
        section, field = dest.split(".", 1)
        sections.setdefault(section, {})[field] = getattr(args, dest)
    return sections


def config_from_args(args: argparse.Namespace, config_file: str | None = None) -> RunConfig:
    """The configuration: the dataclass defaults, then ``config_file`` (a ``--config`` JSON file) if
    given, then the flags the user gave. Raises ConfigError naming the first bad value."""
    base = read_config_file(config_file) if config_file else RunConfig()
    return base.replace(**given_flags(args))


def config_value(args: argparse.Namespace, section: str, field: str) -> Any:
    """The value of one generated flag in ``args`` (given or default)."""
    return getattr(args, f"{section}.{field}")
