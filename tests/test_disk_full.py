"""Disk full (ENOSPC) while training (issue 26): one line on stderr and exit 2, no checkpoint half
published, and a rerun resumes from the last whole checkpoint once space is freed.

Runs on a small tmpfs that the test mounts (root only; skipped with the reason elsewhere). The disk is
filled once the run has its first checkpoint, so the failure comes from a later write (a checkpoint,
a summary) inside ``model.fit``."""

import os
import re
import subprocess
import sys
import time

import pytest

from tf_dpvae import checkpoints

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--no-export", "--reg", "none", "--num-examples", "200", "--batch-size", "20",
        "--hidden-units", "8", "--hidden-layers", "1", "--flow-units", "8", "--flow-blocks", "2",
        "--flow-coupling", "affine"]   # the paper's coupling: cheaper to trace; the flow is not the point


@pytest.fixture
def small_disk(tmp_path):
    from conftest import mounted_tmpfs

    yield from mounted_tmpfs(tmp_path / "disk", "8m")


def train(out, *extra, **popen):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-m", "tf_dpvae.train", *TINY, "--out", str(out),
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def fill(directory):
    """Write zeros into ``directory/filler`` until the file system is full."""
    block = b"\0" * 65536
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass


def test_enospc_during_training_is_one_line_and_the_rerun_resumes(small_disk):
    out = small_disk / "run"
    process = train(out, "--epochs", "1000")
    deadline = time.monotonic() + 180
    while not checkpoints.on_disk(str(out / "checkpoints")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    fill(small_disk)
    stdout, stderr = process.communicate(timeout=180)
    lines = stderr.strip().splitlines()
    assert process.returncode == 2, stderr[-3000:]
    assert len(lines) == 1 and "No space left on device" in lines[0], stderr[-3000:]
    assert "Traceback" not in stderr and "{{function_node" not in lines[0]
    assert "make room, then rerun the same command" in lines[0]
    # nothing half-published: every checkpoint the directories name reads back whole
    for directory in (out / "checkpoints", out / "checkpoints" / "best"):
        found = checkpoints.find(str(directory))
        assert not found.damaged, found
    kept = checkpoints.find(str(out / "checkpoints")).latest
    step = int(re.search(r"ckpt-(\d+)$", kept).group(1))
    assert (out / ".lock").read_text() == ""   # released

    os.remove(small_disk / "filler")
    stdout, stderr = train(out, "--epochs", "1000", "--steps", str(step + 2)).communicate(timeout=300)
    assert f"resuming from {kept} (step {step})" in stdout, stdout[-3000:] + stderr[-3000:]
    assert f"(step {step + 2}, resumed from step {step})" in stdout
    assert not [n for n in os.listdir(out / "checkpoints" / "best") if n.endswith("_temp")]


def test_enospc_during_export_is_one_line_and_no_version_appears(small_disk, tmp_path, capfd):
    """The export's temporary version is removed and no ``OUT/1`` appears; the run is untouched."""
    from conftest import tiny_config
    from tf_dpvae import training
    from tf_dpvae.export.__main__ import main as export_main

    run = tmp_path / "run"
    training.fit(tiny_config("none", "dp"), str(run), verbose=0, log=lambda *_: None)
    out = small_disk / "models"
    out.mkdir()
    fill(small_disk)
    capfd.readouterr()
    assert export_main([str(run), "--out", str(out)]) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(r"[Nn]o space left", lines[0]), lines
    assert os.listdir(out) == []
    os.remove(small_disk / "filler")
    assert export_main([str(run), "--out", str(out)]) == 0
    assert os.listdir(out) == ["1"]


def test_evaluating_a_run_whose_directory_is_not_writable_is_one_line(small_disk, tmp_path, capfd):
    """evaluate writes eval/ into the run: on a read-only file system that is one line and exit 2,
    the run untouched (root passes permission bits, so the test uses a read-only mount)."""
    import shutil

    from conftest import tiny_config
    from tf_dpvae import training
    from tf_dpvae.cli.evaluate import main as evaluate_main

    run = tmp_path / "run"
    training.fit(tiny_config("none", "dp"), str(run), verbose=0, log=lambda *_: None)
    # without logs/: the compiled step's graph trace alone is a few MB, and the disk is 8 MB
    shutil.copytree(run, small_disk / "run", ignore=shutil.ignore_patterns("logs"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = sorted(os.listdir(small_disk / "run"))
    capfd.readouterr()
    assert evaluate_main([str(small_disk / "run"), "--num-samples", "100"]) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], lines
    assert sorted(os.listdir(small_disk / "run")) == before
