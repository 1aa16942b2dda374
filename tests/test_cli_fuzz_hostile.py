"""Issue 26's hostile inputs, on the harness of ``test_cli_fuzz`` (its world of files and runs, its
in-process runner, its snapshot): each case exits with status 2, prints exactly one line on stderr (no
traceback) and writes nothing. Finite but unusable settings, JSON files with a section twice or nested
100,000 deep, archives and images whose headers declare more than they hold, a 5 MB value echoed in a
message, a non-UTF-8 --out; and, as processes, the multi-worker start-up against a peer that answers
TCP but is not a TF worker (bounded, and ended by SIGTERM) and a TF_CONFIG port already in use.

Run alone: ``python -m pytest -q -n 0 tests/test_cli_fuzz_hostile.py``.
"""

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from test_cli_fuzz import (ROOT, SMALL, checkpoint_files, make_run, one_line_refusal,  # noqa: F401
                           run_config, world)

from tf_dpvae.cli.parsing import MAX_MESSAGE

HUGE_VALUE = "x" * 5_000_000


def png_header(width, height):
    """A PNG whose header declares width × height grey pixels (its data is a few bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def npy_declaring(count):
    """An .npy payload whose header declares ``count`` float32 values, followed by 64 bytes."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    header["shape"] = (count,)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 64


def hostile_world(root, files):
    world(root, files)
    (root / "dup_section.json").write_text('{"train": {"lr": 0.1}, "train": {"lr": 0.2}}')
    (root / "dup_key.json").write_text('{"train": {"lr": 0.1, "lr": 0.2}}')
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "long_int.json").write_text('{"train": {"epochs": ' + "9" * 5000 + "}}")
    (root / "huge.npy").write_bytes(npy_declaring(10 ** 12))
    with zipfile.ZipFile(root / "huge.npz", "w") as archive:
        archive.writestr("images.npy", npy_declaring(10 ** 12))
    with zipfile.ZipFile(root / "huge_labelled.npz", "w") as archive:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{name}.npy", npy_declaring(10 ** 12))
    with zipfile.ZipFile(root / "nonpy.npz", "w") as archive:
        archive.writestr("readme.txt", "no arrays here")
    (root / "pics").mkdir()
    for name in ("a.png", "b.png"):
        (root / "pics" / name).write_bytes(png_header(20000, 20000))
    (root / "pics_big").mkdir()   # under Pillow's own bound (89 M pixels), over ours (8192²)
    for name in ("a.png", "b.png"):
        (root / "pics_big" / name).write_bytes(png_header(9000, 9000))
    make_run(root / "dupconf", b'{"train": {}, "train": {}}')


def resolve(token, root):
    """``@NAME`` and ``npz:@``/``folder:@`` as in test_cli_fuzz; ``@@NONUTF8`` is a path under the
    case's directory whose last component is not UTF-8 (surrogate-escaped, as Python gives argv)."""
    if token == "@@NONUTF8":
        return os.path.join(str(root), os.fsdecode(b"run\xff\xfe"))
    if token == "@HUGE":
        return HUGE_VALUE
    for prefix in ("", "npz:", "folder:"):
        if token.startswith(prefix + "@"):
            return prefix + str(root / token[len(prefix) + 1:])
    return token


# id -> (command, argv, what the line must say)
CASES = {
    # 2: finite but unusable values, refused before anything is written
    "train_lr_1e308": ("train", ["--lr", "1e308"], "lr must be a finite number in (0, 10], got 1e+308"),
    "train_epochs_1e12": ("train", ["--epochs", str(10 ** 12)], "epochs must be an integer in [1, "),
    "train_steps_2e40": ("train", ["--steps", str(2 ** 40)], "steps must be an integer in [0, "),
    "train_planned_steps_over_int32": ("train", ["--epochs", "1000000", "--num-examples", "5000",
                                                 "--batch-size", "2"], "more than the 2,147,483,647"),
    "train_beta_1e300": ("train", ["--reg", "beta", "--beta", "1e300"], "beta must be a finite "
                                                                       "number in [0, 1e+06]"),
    "train_obs_std_1e-300": ("train", ["--obs-std", "1e-300"], "obs-std must be a finite number in "
                                                               "[1e-06, 1e+06]"),
    "train_disc_lr_1e5": ("train", ["--disc-lr", "1e5"], "disc-lr must be a finite number in (0, 10]"),
    "train_disc_beta_one": ("train", ["--disc-beta-1", "1"], "disc-beta-1 must be a finite number"),
    "train_clip_norm_1e300": ("train", ["--clip-norm", "1e300"], "clip-norm must be a finite number"),
    "train_noise_1e300": ("train", ["--noise", "1e300"], "noise must be a finite number in [0, 1e+06]"),
    "train_peer_timeout_zero": ("train", ["--peer-timeout", "0"], "peer-timeout must be an integer "
                                                                  "in [1, 86,400], got 0"),
    "train_warmup_steps_huge": ("train", ["--warmup-steps", str(2 ** 62)], "warmup-steps must be an "
                                                                           "integer in [0, "),
    # 4: JSON a parser would take silently, or choke on
    "train_config_section_twice": ("train", ["--config", "@dup_section.json"],
                                   "is refused: the key 'train' appears twice in one object"),
    "train_config_key_twice": ("train", ["--config", "@dup_key.json"],
                               "is refused: the key 'lr' appears twice in one object"),
    "train_config_nested_100000": ("train", ["--config", "@deep.json"], "nests deeper than 32 levels"),
    "train_config_5000_digits": ("train", ["--config", "@long_int.json"],
                                 "an integer of 5,000 digits"),
    "tune_config_section_twice": ("tune", ["--config", "@dup_section.json"], "appears twice"),
    "evaluate_config_section_twice": ("evaluate", ["@dupconf"], "appears twice"),
    "export_config_section_twice": ("export", ["@dupconf"], "appears twice"),
    # 7: data whose headers declare more than the file holds; a zip without an .npy
    "train_npz_header_1e12_floats": ("train", ["--dataset", "npz:@huge.npz"],
                                     "declares shape (1000000000000,)"),
    "train_npy_header_1e12_floats": ("train", ["--dataset", "npz:@huge.npy"],
                                     "declares shape (1000000000000,)"),
    "train_zip_without_npy": ("train", ["--dataset", "npz:@nonpy.npz"], "holds no .npy array"),
    "features_npz_header_1e12_floats": ("features", ["--npz", "@huge_labelled.npz"],
                                        "declares shape (1000000000000,)"),
    "train_png_header_20000_squared": ("train", ["--dataset", "folder:@pics"],
                                       "declares more pixels than 67,108,864"),
    "train_png_header_9000_squared": ("train", ["--dataset", "folder:@pics_big"],
                                      "declares 9000×9000 pixels"),
    # 7: a path the file system holds but TensorFlow cannot write
    "train_out_not_utf8": ("train", ["--out", "@@NONUTF8"], "--out must be a UTF-8 path"),
    "export_out_not_utf8": ("export", ["@good", "--out", "@@NONUTF8"], "--out must be a UTF-8 path"),
    # 8: a 5 MB value is not echoed whole
    "train_dataset_5mb_value": ("train", ["--dataset", "@HUGE"], "characters left out"),
    "train_config_5mb_name": ("train", ["--config", "@HUGE"], "characters left out"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_exit_2_one_line_and_nothing_written(case, tmp_path, monkeypatch, capfd,
                                                              checkpoint_files):  # noqa: F811
    command, argv, expected = CASES[case]
    hostile_world(tmp_path, checkpoint_files)
    line = one_line_refusal(command, argv, tmp_path, monkeypatch, capfd, resolve=resolve)
    assert len(line) < MAX_MESSAGE + 200, len(line)
    assert expected in line, line[:3000]


# ------------------------------------------------------------------------ multi-worker, as processes
def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_socket():
    """A plain TCP socket on a loopback port that accepts connections and never speaks: a peer that
    answers TCP but is not a TF worker."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def start_worker(tmp_path, tf_config, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "TF_CPP_MIN_LOG_LEVEL")}
    env.update(PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="", TF_CONFIG=json.dumps(tf_config))
    return subprocess.Popen([sys.executable, "-m", "tf_dpvae.train", "--strategy", "multiworker",
                             "--no-export", *SMALL, "--out", str(tmp_path / "run"), *extra],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def cluster(leader, own, index=1):
    return {"cluster": {"worker": [f"127.0.0.1:{leader}", f"127.0.0.1:{own}"]},
            "task": {"type": "worker", "index": index}}


def test_a_peer_that_is_not_a_tf_worker_ends_the_start_up_within_peer_timeout(tmp_path):
    """Issue 26's reproduction (a plain socket as worker 0, this process worker 1), with
    --peer-timeout 5: one line naming the peer, exit 2, nothing written, within the bound."""
    with listening_socket() as peer:
        port = peer.getsockname()[1]
        start = time.monotonic()
        process = start_worker(tmp_path, cluster(port, free_port()), "--peer-timeout", "5")
        stdout, stderr = process.communicate(timeout=180)
    lines = stderr.strip().splitlines()
    assert process.returncode == 2, stderr[-3000:]
    assert len(lines) == 1 and f"leader 127.0.0.1:{port}" in lines[0] \
        and "within 5 s (--peer-timeout)" in lines[0], stderr[-3000:]
    assert time.monotonic() - start < 120   # TensorFlow's import, then the 5 s bound
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_wait_for_a_peer_that_is_not_a_tf_worker_ends_on_a_signal(tmp_path, signum):
    """With the default bound (minutes): the signal ends the wait at once, in one line, with the
    conventional status, nothing written."""
    with listening_socket() as peer:
        process = start_worker(tmp_path, cluster(peer.getsockname()[1], free_port()))
        peer.settimeout(180)
        connection, _ = peer.accept()   # the worker's probe has reached the peer: it is waiting
        time.sleep(1.0)
        process.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        connection.close()
    lines = stderr.strip().splitlines()
    assert time.monotonic() - sent < 15
    assert process.returncode == 128 + signum, stderr[-3000:]
    assert lines == [f"python -m tf_dpvae.train: interrupted by {signal.Signals(signum).name}"], \
        stderr[-3000:]
    assert os.listdir(tmp_path) == []


def test_a_tf_config_port_already_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = start_worker(tmp_path, cluster(port, free_port(), index=0))
        stdout, stderr = process.communicate(timeout=180)
    lines = stderr.strip().splitlines()
    assert process.returncode == 2, stderr[-3000:]
    assert len(lines) == 1 and f"TF_CONFIG task address 127.0.0.1:{port} cannot be used" in lines[0], \
        stderr[-3000:]
    assert os.listdir(tmp_path) == []


def test_the_leader_waiting_for_a_peer_that_is_not_a_tf_worker_ends_within_peer_timeout(tmp_path):
    """This process is worker 0 (the coordination leader) and worker 1 is a plain socket: TensorFlow's
    own wait is not bounded by its registration timeout, so the watchdog ends it: one line, nothing
    written, within the bound (status 137: the process is killed, being blocked inside TensorFlow)."""
    with listening_socket() as peer:
        port = peer.getsockname()[1]
        start = time.monotonic()
        process = start_worker(tmp_path, cluster(free_port(), port, index=0), "--peer-timeout", "5")
        stdout, stderr = process.communicate(timeout=180)
    lines = stderr.strip().splitlines()
    assert process.returncode == -signal.SIGKILL, stderr[-3000:]
    assert len(lines) == 1 and f"peers 127.0.0.1:{port} did not all join within 5 s" in lines[0], \
        stderr[-3000:]
    assert time.monotonic() - start < 120
    assert os.listdir(tmp_path) == []
