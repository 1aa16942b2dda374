"""Ctrl-C and SIGTERM during training (issue 26): one line on stderr, a checkpoint at the step the signal
arrived, the lock released, exit status 130 / 143, and a rerun that resumes from that checkpoint.

One training process per signal, on two moons with a tiny model; each is signalled once its first
checkpoint exists (it is then inside ``model.fit``)."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tf_dpvae import interrupts
from tf_dpvae.cli.parsing import guarded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--no-export", "--reg", "none", "--num-examples", "200", "--batch-size", "20",
        "--hidden-units", "8", "--hidden-layers", "1", "--flow-units", "8", "--flow-blocks", "2",
        "--flow-coupling", "affine", "--log-every", "1000"]   # affine: cheaper to trace; not the point


def env():
    full = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    full.update(PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    return full


def start(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "tf_dpvae.train", *TINY, "--out", str(out),
                             *extra], cwd=out.parent, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(process, out, newer_than=0, timeout=180):
    """Wait until ``out/checkpoints`` holds a checkpoint with a step above ``newer_than``."""
    pattern = re.compile(r"^ckpt-(\d+)\.index$")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        names = os.listdir(out / "checkpoints") if (out / "checkpoints").is_dir() else []
        if any(int(m.group(1)) > newer_than for m in map(pattern.match, names) if m):
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail("no checkpoint appeared")


def steps_on_disk(out):
    names = os.listdir(out / "checkpoints")
    return sorted(int(m.group(1)) for m in map(re.compile(r"^ckpt-(\d+)\.index$").match, names) if m)


def interrupt(process, out, signum, newer_than=0):
    wait_for_checkpoint(process, out, newer_than)
    time.sleep(0.5)   # into the next epoch: the saved step is then mid-epoch
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    lines = stderr.strip().splitlines()
    assert process.returncode == 128 + signum, stderr[-3000:]
    assert len(lines) == 1, stderr[-3000:]
    name = signal.Signals(signum).name
    match = re.search(rf"interrupted by {name}; saved (\S+) at step (\d+)", lines[0])
    assert match, lines[0]
    step = int(match.group(2))
    assert os.path.basename(match.group(1)) == f"ckpt-{step}"
    assert step in steps_on_disk(out)
    assert (out / ".lock").read_text() == ""   # released: no holder's record left
    return step


def test_sigint_then_sigterm_save_release_and_resume(tmp_path):
    out = tmp_path / "run"
    first = interrupt(start(out, "--epochs", "1000"), out, signal.SIGINT)
    second_process = start(out, "--epochs", "1000")
    second = interrupt(second_process, out, signal.SIGTERM, newer_than=first)
    assert second > first
    done = subprocess.run([sys.executable, "-m", "tf_dpvae.train", *TINY, "--out", str(out),
                           "--epochs", "1000", "--steps", str(second + 1)], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {out / 'checkpoints' / f'ckpt-{second}'} (step {second})" in done.stdout
    assert f"(step {second + 1}, resumed from step {second})" in done.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["steps"] == second + 1


def test_guarded_turns_an_interrupt_into_one_line_and_its_status(capsys):
    def body():
        raise interrupts.Interrupted(signal.SIGTERM, "saved ckpt-7 at step 7")

    assert guarded("prog", body) == 143
    assert capsys.readouterr().err == "prog: interrupted by SIGTERM; saved ckpt-7 at step 7\n"

    def ctrl_c():
        raise KeyboardInterrupt

    assert guarded("prog", ctrl_c) == 130
    assert capsys.readouterr().err == "prog: interrupted by SIGINT\n"


def test_sigterm_raises_interrupted_inside_guarded_only():
    seen = []

    def body():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except interrupts.Interrupted as err:
            seen.append(err.signum)
            raise
        return 0

    assert guarded("prog", body) == 143
    assert seen == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize("existed", [False, True])
def test_an_attempt_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path, monkeypatch,
                                                                          existed):
    """Issue 26: a run directory appears only once a run has a checkpoint. An attempt that fails
    before (here: the disk fills as TensorBoard's HParams are written) removes what it wrote, and a
    corrected rerun with other settings is not refused as "a run with different settings"."""
    import errno

    from conftest import tiny_config
    from tf_dpvae import training

    out = tmp_path / "run"
    if existed:
        out.mkdir()
        (out / "notes.txt").write_text("mine")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "logs"))

    with monkeypatch.context() as patch:
        patch.setattr(training, "write_hparams", disk_full)
        with pytest.raises(OSError):
            training.fit(tiny_config("none", "dp"), str(out), verbose=0, log=lambda *_: None)
    assert sorted(os.listdir(out)) == ["notes.txt"] if existed else not out.exists()
    result = training.fit(tiny_config("none", "dp", train={"lr": 2e-3}), str(out), verbose=0,
                          log=lambda *_: None)
    assert result.step == 3 and json.loads((out / "config.json").read_text())["train"]["lr"] == 2e-3


def test_guarded_turns_disk_errors_into_one_line_and_lets_bugs_through(capsys):
    import errno

    def raising(err):
        def body():
            raise err
        return body

    cases = [(OSError(errno.ENOSPC, "No space left on device", "/r/eval/x.json"),
              "no space left on the device writing '/r/eval/x.json' (ENOSPC)"),
             (PermissionError(errno.EACCES, "Permission denied", "/r/eval"),
              "permission denied writing '/r/eval' (EACCES)"),
             (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only (EROFS)")]
    tf_like = type("ResourceExhaustedError", (Exception,), {"__module__": "tensorflow.errors"})
    cases.append((tf_like("{{function_node f}} /r/ckpt-3_temp/part; No space left on device "
                          "[Op:SaveV2]"), "/r/ckpt-3_temp/part; No space left on device; what"))
    for err, fragment in cases:
        assert guarded("prog", raising(err)) == 2
        line = capsys.readouterr().err
        assert line.count("\n") == 1 and line.startswith("prog: error: ") and fragment in line, line
    with pytest.raises(RuntimeError):
        guarded("prog", raising(RuntimeError("a bug")))
    with pytest.raises(OSError):
        guarded("prog", raising(OSError(errno.EBADF, "Bad file descriptor")))
