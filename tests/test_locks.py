"""Run-directory locks: one process at a time; the loser exits 2 naming the holder; a dead holder's
record is taken over; re-entrant within a process."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tf_dpvae import locks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--num-examples", "200", "--batch-size", "20", "--hidden-units", "16", "--flow-units", "16",
        "--flow-blocks", "2", "--flow-coupling", "affine", "--steps", "2", "--epochs", "1", "--no-export"]

# A holder: takes the lock, says so, and keeps it until the file named by argv[2] exists.
HOLDER = textwrap.dedent("""
    import os, sys, time
    from tf_dpvae import locks
    with locks.hold(sys.argv[1], "test-holder"):
        print("held", flush=True)
        deadline = time.time() + 120
        while not os.path.exists(sys.argv[2]) and time.time() < deadline:
            time.sleep(0.05)
""")

# The real train command, whose winner waits (inside the lock, before the first epoch) until the
# file argv[1] exists: the test releases it only once the loser has exited.
SLOW_TRAIN = textwrap.dedent("""
    import os, sys, time
    from tf_dpvae.quiet import import_tensorflow_quietly
    import_tensorflow_quietly()   # as the command does: no native start-up lines on stderr
    from tf_dpvae import training
    original = training.write_hparams
    def slow(*args, **kwargs):
        deadline = time.time() + 300
        while not os.path.exists(sys.argv[1]) and time.time() < deadline:
            time.sleep(0.05)
        return original(*args, **kwargs)
    training.write_hparams = slow
    from tf_dpvae.cli import train
    sys.exit(train.main(sys.argv[2:]))
""")


def env():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


def start_holder(run_dir, release):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), str(release)],
                            stdout=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_with_the_holder_named(tmp_path):
    release = tmp_path / "release"
    proc = start_holder(tmp_path, release)
    try:
        with pytest.raises(locks.RunLocked) as err:
            with locks.hold(str(tmp_path), "train"):
                pass
        message = str(err.value)
        assert f"pid {proc.pid}" in message and "test-holder" in message and "since " in message
        record = locks.read_record(str(tmp_path))
        assert record["pid"] == proc.pid and record["host"] and record["started"]
    finally:
        release.touch()
        proc.wait(timeout=60)
    with locks.hold(str(tmp_path), "train"):   # released on exit
        assert locks.read_record(str(tmp_path))["pid"] == os.getpid()
    assert locks.read_record(str(tmp_path)) is None   # emptied on release


def test_lock_of_a_killed_holder_is_released_and_its_record_taken_over(tmp_path):
    proc = start_holder(tmp_path, tmp_path / "never")
    proc.kill()   # SIGKILL: no cleanup runs, the record stays, the OS drops the flock
    proc.wait(timeout=60)
    assert locks.read_record(str(tmp_path))["pid"] == proc.pid
    heard = []
    with locks.hold(str(tmp_path), "evaluate", log=heard.append):
        assert locks.read_record(str(tmp_path))["pid"] == os.getpid()
    assert len(heard) == 1 and f"pid {proc.pid}" in heard[0] and "no longer running" in heard[0]


def test_stale_record_of_a_dead_pid_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / locks.LOCK_FILE).write_text(json.dumps(
        {"pid": int(dead), "host": "elsewhere", "purpose": "train", "started": "yesterday"}))
    heard = []
    with locks.hold(str(tmp_path), "train", log=heard.append):
        assert locks.read_record(str(tmp_path))["purpose"] == "train"
    assert heard and f"pid {dead}" in heard[0]


def test_reentrant_within_one_process(tmp_path):
    with locks.hold(str(tmp_path), "train"):
        with locks.hold(str(tmp_path / "." ), "export"):   # same directory, another spelling
            pass
        assert locks.read_record(str(tmp_path))["purpose"] == "train"   # still held
    assert locks.read_record(str(tmp_path)) is None


def test_garbled_record_does_not_break_the_lock(tmp_path):
    (tmp_path / locks.LOCK_FILE).write_bytes(b"\x00{not json")
    with locks.hold(str(tmp_path), "train"):
        assert locks.read_record(str(tmp_path))["pid"] == os.getpid()


def _flock_held_elsewhere(run_dir):
    """An exclusive flock on RUN_DIR/.lock through its own open file (flock excludes other open
    files of the same path even within one process), with no record written yet."""
    import fcntl
    fd = os.open(locks.lock_path(str(run_dir)), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize("left_behind", ["", json.dumps({"pid": 2 ** 22 + 7, "host": "HOST",
                                                          "purpose": "dead", "started": "then"})])
def test_a_loser_by_a_hair_waits_for_the_winners_record(tmp_path, left_behind):
    """The race CI hit: the winner holds the flock but has not yet written its record (the file is
    empty, or still holds a dead holder's record). The loser waits for the live record and names it."""
    import socket
    import threading
    (tmp_path / locks.LOCK_FILE).write_text(left_behind.replace("HOST", socket.gethostname()))
    fd = _flock_held_elsewhere(tmp_path)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": "winner",
              "started": "now"}

    def write_as_hold_does():
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)

    writer = threading.Timer(0.5, write_as_hold_does)
    writer.start()
    try:
        started = time.monotonic()
        with pytest.raises(locks.RunLocked, match=f"pid {os.getpid()} .*winner"):
            with locks.hold(str(tmp_path), "loser"):
                pass
        assert 0.4 < time.monotonic() - started < locks.RECORD_WAIT_S
    finally:
        writer.join()
        os.close(fd)


def test_a_holder_that_never_writes_a_record_is_reported_after_the_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "RECORD_WAIT_S", 0.3)
    fd = _flock_held_elsewhere(tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(locks.RunLocked, match="record is not readable yet"):
            with locks.hold(str(tmp_path), "loser"):
                pass
        assert time.monotonic() - started >= 0.3
    finally:
        os.close(fd)


def test_export_and_evaluate_of_a_held_run_exit_2_naming_the_holder(tmp_path, capsys):
    from tf_dpvae.cli import evaluate, export

    (tmp_path / "config.json").write_text("{}")
    release = tmp_path / "release"
    proc = start_holder(tmp_path, release)
    try:
        for main, argv in ((export.main, [str(tmp_path), "--out", str(tmp_path / "models")]),
                           (evaluate.main, [str(tmp_path)])):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and f"pid {proc.pid}" in err, err
        assert not (tmp_path / "models").exists() and not (tmp_path / "eval").exists()
    finally:
        release.touch()
        proc.wait(timeout=60)


def test_two_trainings_on_one_out_at_once_one_runs_the_other_exits_2(tmp_path):
    """Started together on one new --out with different seeds (the corruption of issue 14): exactly
    one trains; the other exits 2 naming it, and the run on disk is the winner's alone."""
    out, release = tmp_path / "run", tmp_path / "release"
    procs = [subprocess.Popen([sys.executable, "-c", SLOW_TRAIN, str(release), *TINY,
                               "--out", str(out), "--seed", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env(), cwd=ROOT)
             for seed in (0, 1)]
    try:
        deadline = time.time() + 300
        while all(p.poll() is None for p in procs) and time.time() < deadline:
            time.sleep(0.1)
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        _, loser_err = loser.communicate()
        assert loser.returncode == 2, loser_err
        line = loser_err.strip()
        assert len(line.splitlines()) == 1 and f"pid {winner.pid}" in line and "train" in line, line
    finally:
        release.touch()
    winner_out, winner_err = winner.communicate(timeout=300)
    assert winner.returncode == 0, winner_err
    seed = json.loads((out / "config.json").read_text())["train"]["seed"]
    assert seed == procs.index(winner)
    assert locks.read_record(str(out)) is None
