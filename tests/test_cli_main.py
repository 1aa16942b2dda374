"""The console script ``tf-dpvae``: the dispatcher, and the package installed with pip into a fresh
virtual environment (``--no-deps``, against the dependencies already installed here), where every
command's ``--help`` runs from the installed copy."""

import os
import pathlib
import shutil
import site
import subprocess
import sys

import pytest

from tf_dpvae.cli import main as cli_main

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_dispatcher_hands_the_rest_of_the_line_to_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tf-dpvae train ")
    assert "weight β of the KL" in out


def test_unknown_or_missing_command_is_one_line_exit_2(capsys):
    for argv in (["bogus"], []):
        with pytest.raises(SystemExit) as exc:
            cli_main.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("tf-dpvae: error:")


def test_bad_value_through_the_dispatcher_names_the_command(tmp_path, capsys):
    assert cli_main.main(["train", "--batch-size", "0", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tf-dpvae train: error: batch-size must be a positive integer, got 0")
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the installed dependencies visible (a .pth to this environment's
    site-packages) and tf_dpvae installed by ``pip install --no-deps`` from a copy of the source."""
    root = tmp_path_factory.mktemp("install")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "tf_dpvae", src / "tf_dpvae",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for extra in ("notebooks", "saved_models"):   # what setuptools must not pick up as packages
        (src / extra).mkdir()
        (src / extra / "__init__.py").write_text("")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    pathlib.Path(purelib, "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return venv, pathlib.Path(purelib)


def test_pip_installs_only_the_package(installed):
    venv, purelib = installed
    assert (purelib / "tf_dpvae" / "cli" / "main.py").is_file()
    assert not (purelib / "notebooks").exists() and not (purelib / "saved_models").exists()
    assert (venv / "bin" / "tf-dpvae").is_file()


@pytest.mark.parametrize("command", sorted(cli_main.COMMANDS))
def test_each_console_command_help_runs_from_the_installed_copy(installed, tmp_path, command):
    venv, purelib = installed
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(venv / "bin" / "tf-dpvae"), command, "--help"], capture_output=True,
                          text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: tf-dpvae {command}")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import tf_dpvae; print(tf_dpvae.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env).stdout
    assert where.startswith(str(purelib))
