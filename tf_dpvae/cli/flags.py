"""Command-line flags generated from the configuration dataclasses (no TensorFlow import).

Every field of every ``RunConfig`` section becomes one flag: its name, help text (with the paper's
symbol), ``choices`` and ``--help`` group come from the field's metadata (``config.flag``), its type
and default from the field itself. A field declared without metadata still gets ``--FIELD-NAME`` in
its class's group. Nothing here restates a field or a default.

The parser keeps the dataclass defaults (``--help`` shows them), and records which flags the user
actually gave, so that ``config_from_args`` layers them over a ``--config`` file: defaults, then the
file, then the given flags.

The other commands' settings are flat dataclasses (``evaluation.settings.EvalSettings``,
``FeatureSettings``, ``cli.reproduce.Table1Settings``): ``add_settings_flags`` makes one flag per
field the same way (``dest`` is the field's name), with the extra metadata such commands need (an
argument type named in ``PARSERS``, ``nargs``, ``metavar``, hidden flags), and ``settings_values``
reads them back as the dataclass's keyword arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterator, NamedTuple

from tf_dpvae.cli.parsing import assignment, float_list, positive_int, seed_int
from tf_dpvae.config import RunConfig
from tf_dpvae.json_files import read_config_file

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


# Argument types a settings field may name in its metadata (``config.flag(..., parse=NAME)``): the
# library's dataclasses cannot import this package, so they name the type instead.
PARSERS = {"positive_int": positive_int, "seed": seed_int, "floats": float_list,
           "assignment": assignment}


class SettingFlag(NamedTuple):
    """One generated flag of a flat settings dataclass: ``--{option}`` sets ``{field}``."""

    field: str
    option: str
    kind: Any          # the argparse type: int, float, str, a PARSERS entry; bool for a switch
    default: Any
    help: str
    choices: tuple | None
    group: str | None  # None: the parser's own options
    nargs: str | None
    metavar: str | None
    hidden: bool


def settings_flags(settings_cls: type) -> Iterator[SettingFlag]:
    """The flags of every field of the flat dataclass ``settings_cls``, in declaration order."""
    for field in dataclasses.fields(settings_cls):
        meta = field.metadata
        if meta.get("parse"):
            kind = PARSERS[meta["parse"]]
        else:
            kind = _TYPES.get(str(field.type).split(" |")[0], str)
        yield SettingFlag(
            field=field.name, option=(meta.get("flag") or field.name).replace("_", "-"), kind=kind,
            default=field.default, help=meta.get("help") or field.name.replace("_", " "),
            choices=meta.get("choices"), group=meta.get("group"), nargs=meta.get("nargs"),
            metavar=meta.get("metavar"), hidden=bool(meta.get("hidden")))


def _shown_default(f: SettingFlag) -> str:
    if isinstance(f.default, tuple):
        return " ".join(map(str, f.default)) if f.nargs else ",".join(f"{v:g}" for v in f.default)
    return _shown(f.default)


def add_settings_flags(parser: argparse.ArgumentParser, settings_cls: type,
                       containers: dict[str, argparse._ActionsContainer] | None = None
                       ) -> list[SettingFlag]:
    """Add one flag per field of ``settings_cls`` to ``parser``; return them.

    A field's ``group`` names a container in ``containers`` (e.g. a mutually exclusive group the
    command made), else an argument group made for it; no group: the parser's own options. A boolean
    field that defaults to False is a switch (``store_true``); ``hidden`` flags are left out of
    ``--help``; a tuple field with ``nargs`` collects its values into a list (``settings_values``
    turns it back into a tuple).
    """
    containers = dict(containers or {})
    flags = list(settings_flags(settings_cls))
    for f in flags:
        if f.group is None:
            where = parser
        else:
            if f.group not in containers:
                containers[f.group] = parser.add_argument_group(f.group)
            where = containers[f.group]
        shown = "" if f.default is None or f.kind is bool else f" (default: {_shown_default(f)})"
        help_text = argparse.SUPPRESS if f.hidden else f"{f.help}{shown}".replace("%", "%%")
        if f.kind is bool:
            if f.default is not False:
                raise ValueError(f"{settings_cls.__name__}.{f.field}: a switch defaults to False")
            where.add_argument(f"--{f.option}", dest=f.field, action="store_true", default=False,
                               help=help_text)
            continue
        where.add_argument(f"--{f.option}", dest=f.field, type=f.kind, default=f.default,
                           choices=f.choices, nargs=f.nargs, metavar=f.metavar, help=help_text)
    return flags


def settings_values(settings_cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``settings_cls`` as parsed into ``args``: ``{field: value}``, lists as tuples."""
    return {f.name: tuple(v) if isinstance(v := getattr(args, f.name), list) else v
            for f in dataclasses.fields(settings_cls)}
