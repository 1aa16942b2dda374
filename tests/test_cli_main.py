"""The console script ``tf-dpvae``: the dispatcher, and the package installed with pip into a fresh
virtual environment (``--no-deps``, against the dependencies already installed here), where every
command's ``--help`` runs from the installed copy."""

import os
import pathlib
import re
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


# ------------------------------------------------------------------ one way of doing things (issue 24)
def help_text(command: str) -> str:
    """``tf-dpvae COMMAND --help`` (``reproduce`` as ``reproduce table1``), its lines joined."""
    import contextlib
    import io

    argv = command.split() + ["--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli_main.main(argv)
    return out.getvalue()


COMMAND_LINES = [c if c != "reproduce" else "reproduce table1" for c in cli_main.COMMANDS]
# the commands that run for more than a few seconds (all but export, which writes one SavedModel)
LONG = {"train", "evaluate", "tune", "features", "reproduce table1", "retrofit"}


def test_top_level_help_names_every_command_of_the_dispatcher():
    text = " ".join(help_text("").split())
    description = text.split("positional arguments")[0]
    assert all(command in description for command in cli_main.COMMANDS), description
    assert all(f" {command} " in text for command in cli_main.COMMANDS)


@pytest.mark.parametrize("command", COMMAND_LINES)
def test_every_help_ends_with_examples_of_that_command(command):
    text = help_text(command)
    epilog = text.split("\nexamples:\n")[1].splitlines()
    assert epilog and all(line.startswith(f"  tf-dpvae {command.split()[0]}") for line in epilog), epilog


@pytest.mark.parametrize("command", COMMAND_LINES)
def test_defaults_are_written_one_way(command):
    """``(default: X)``, never ``(default X)``, ``X (default)`` or ``(default; …``."""
    text = " ".join(help_text(command).split())
    assert re.findall(r"\(default(?!: )", text) == [], command
    assert re.findall(r"\w \(default\)|default \d", text) == [], command


@pytest.mark.parametrize("command", COMMAND_LINES)
def test_run_directories_are_run_dir_and_progress_is_one_switch(command):
    text = help_text(command)
    usage = " ".join(text.split("\n\n")[0].split())
    if command in ("evaluate", "export", "retrofit"):
        assert usage.endswith(" RUN_DIR"), usage
    assert not re.search(r"\b(run_dir|RUN)\b", usage)
    assert "--verbose" not in text
    assert ("--no-progress" in usage) == (command in LONG), command


def test_the_help_states_the_protocol_and_the_fid_as_the_code_has_them():
    from tf_dpvae.evaluation.settings import EvalSettings  # noqa: F401 - the help's source
    from tf_dpvae.experiments.protocol import PROTOCOLS

    text = " ".join(help_text("reproduce table1").split())
    assert f"{PROTOCOLS['reduced'].steps:,} steps per model" in text and "2,000 steps" not in text
    flag = text.rsplit("--inception-weights FILE", 1)[1].split(" --no-post-hoc")[0]
    assert "true FID" not in flag and "not the FID network" in flag and "frechet_distance_keras_inception" in flag
    evaluate = " ".join(help_text("evaluate").split())
    assert "not the FID network" in evaluate


def test_the_default_run_directory_holds_the_seed(tmp_path, monkeypatch):
    """``train --seed 1`` after ``train`` is a second run, not a run with other settings refused."""
    from tf_dpvae import runs, training
    from tf_dpvae.cli import train
    from tf_dpvae.config import RunConfig

    assert runs.default_run_name(RunConfig()) == "factor-dp-moons-seed0"
    assert (runs.default_run_name(RunConfig().replace(train={"seed": 1}, data={"dataset": "npz:/a b/c.npz"}))
            == "factor-dp-npz_a_b_c.npz-seed1")
    outs = []

    def fake_fit(config, out, **kwargs):
        outs.append(out)
        raise training.TrainingDiverged("stopped by the test")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(training, "fit", fake_fit)
    assert train.main(["--no-export"]) == 1 and train.main(["--no-export", "--seed", "1"]) == 1
    assert outs == [os.path.join("runs", "factor-dp-moons-seed0"), os.path.join("runs", "factor-dp-moons-seed1")]


@pytest.mark.skipif(any(os.path.exists(n) for n in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")),
                    reason="a GPU device node exists: CUDA's messages stay visible there")
def test_no_cuda_error_line_on_a_machine_without_a_gpu(tmp_path):
    code = ("from tf_dpvae.quiet import import_tensorflow_quietly\nimport_tensorflow_quietly()\n"
            "import tensorflow as tf\nprint(tf.config.list_physical_devices())")
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}   # a user's shell
    environment["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=environment, timeout=300)
    assert done.returncode == 0 and "CPU" in done.stdout, done.stderr
    assert "cuInit" not in done.stderr and "E0000" not in done.stderr, done.stderr
