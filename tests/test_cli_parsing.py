"""cli.parsing: ``guarded`` lets a bug through (only a ``UserError`` becomes one line and exit
status 2: test_errors checks every class), ``run_command`` (every command's ``main``), and
``path_tag``."""

import argparse

import pytest

from tf_dpvae.cli.parsing import guarded, path_tag, run_command
from tf_dpvae.errors import UserError


def test_other_exceptions_are_not_swallowed():
    def body():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        guarded("prog", body)


def test_path_tag_never_nests_directories():
    assert path_tag("npz:/data/x.npz") == "npz_data_x.npz"
    assert path_tag("moons") == "moons"
    assert path_tag("///") == "data"


def _parser():
    parser = argparse.ArgumentParser(prog="tf-dpvae demo")
    parser.add_argument("--n", type=int, default=1)
    return parser


def test_run_command_passes_prog_and_parsed_args_and_returns_the_status():
    seen = []

    def body(prog, args):
        seen.append((prog, args.n))
        return 7

    assert run_command(_parser(), ["--n", "3"], body) == 7
    assert seen == [("tf-dpvae demo", 3)]


def test_run_command_turns_a_user_error_into_one_line_and_status_2(capsys):
    def body(prog, args):
        raise UserError(f"--n must be positive, got {args.n}")

    assert run_command(_parser(), ["--n", "-4"], body) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tf-dpvae demo" in err[0] and "--n must be positive, got -4" in err[0]


def test_run_command_leaves_bad_flags_to_argparse():
    with pytest.raises(SystemExit) as raised:
        run_command(_parser(), ["--n", "many"], lambda prog, args: 0)
    assert raised.value.code == 2
