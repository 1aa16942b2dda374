"""checkpoints: damaged checkpoints are found by reading them back, the state file is never trusted, and
rotation deletes nothing before a newer checkpoint has read back whole (tiny tf.train.Checkpoints)."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import checkpoints


def make(value=0.0):
    return tf.train.Checkpoint(w=tf.Variable(np.full((64, 8), value, np.float32)),
                               b=tf.Variable(np.arange(8, dtype=np.float32) + value))


def save_steps(directory, steps, keep=5):
    rotation = checkpoints.Rotation(make(), checkpoints.find(directory), keep=keep, log=print)
    for step in steps:
        rotation.checkpoint.w.assign(tf.fill((64, 8), float(step)))
        assert rotation.save(checkpoint_number=step) == os.path.join(directory, f"ckpt-{step}")
    return rotation


def data_file(prefix):
    (path,) = glob.glob(prefix + ".data-*")
    return path


def garble(path, start=None, length=64):
    raw = bytearray(open(path, "rb").read())
    start = len(raw) // 3 if start is None else start
    for i in range(start, min(start + length, len(raw))):
        raw[i] ^= 0x5A
    open(path, "wb").write(bytes(raw))


def truncate(path):
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])


DAMAGES = {
    "garbled index": lambda p: garble(p + ".index"),
    "index of garbage": lambda p: open(p + ".index", "wb").write(b"garbage"),
    "truncated index": lambda p: truncate(p + ".index"),
    "truncated data": lambda p: truncate(data_file(p)),
    "garbled data": lambda p: garble(data_file(p), start=0),
    "missing data": lambda p: os.remove(data_file(p)),
    "missing index": lambda p: os.remove(p + ".index"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_damage_is_found_by_reading_back_every_tensor(tmp_path, kind):
    save_steps(str(tmp_path), [1, 2])
    prefix = str(tmp_path / "ckpt-2")
    assert checkpoints.damage(prefix) is None
    DAMAGES[kind](prefix)
    assert checkpoints.damage(prefix)   # a one-line reason
    assert "\n" not in checkpoints.damage(prefix)
    found = checkpoints.find(str(tmp_path))
    assert found.latest == str(tmp_path / "ckpt-1")
    assert [p for p, _ in found.damaged] == [prefix]
    assert found.notice().endswith("skipping damaged checkpoint ckpt-2 ("
                                   f"{checkpoints.damage(prefix)}); using ckpt-1, the newest intact one")
    # the fallback holds the older checkpoint's values
    restored = make(-1.0)
    restored.read(found.latest).assert_existing_objects_matched()
    np.testing.assert_array_equal(restored.w.numpy(), np.full((64, 8), 1.0, np.float32))


@pytest.mark.parametrize("state", [b"garbage {{{", b"", b"\x00\xff" * 50,
                                   b'model_checkpoint_path: "ckpt-1"'])
def test_an_unreadable_or_stale_state_file_is_not_trusted(tmp_path, state):
    """The state file garbled, empty or pointing at an older checkpoint: the checkpoints are found on
    disk, the newest one is used, and the next save rotates only what is beyond ``keep``."""
    save_steps(str(tmp_path), [1, 2, 3], keep=3)
    (tmp_path / "checkpoint").write_bytes(state)
    found = checkpoints.find(str(tmp_path))
    assert found.latest == str(tmp_path / "ckpt-3")
    assert found.older == [str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2")]
    unreadable = state != b'model_checkpoint_path: "ckpt-1"'
    assert (found.state_problem is not None) == unreadable
    if unreadable:
        assert "state file" in found.notice() and "found the checkpoints from the files on disk" \
            in found.notice()
    rotation = checkpoints.Rotation(make(), found, keep=3, log=print)
    assert rotation.save(checkpoint_number=4)
    assert checkpoints.on_disk(str(tmp_path)) == [str(tmp_path / f"ckpt-{n}") for n in (2, 3, 4)]
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-4")
    assert tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == [
        str(tmp_path / f"ckpt-{n}") for n in (2, 3, 4)]   # written relative, read back absolute


def test_nothing_is_deleted_until_a_newer_checkpoint_reads_back(tmp_path, monkeypatch):
    rotation = save_steps(str(tmp_path), [1, 2], keep=2)
    before = sorted(os.listdir(tmp_path))
    lines = []
    rotation.log = lines.append
    real = checkpoints.damage
    monkeypatch.setattr(checkpoints, "damage",
                        lambda p: "disk full" if p.endswith("ckpt-3") else real(p))
    assert rotation.save(checkpoint_number=3) is None
    assert lines == [f"the new checkpoint {tmp_path / 'ckpt-3'} does not read back (disk full); "
                     f"keeping {tmp_path / 'ckpt-2'}"]
    assert set(before) <= set(os.listdir(tmp_path))   # ckpt-1 and ckpt-2 both still there
    assert rotation.latest_checkpoint == str(tmp_path / "ckpt-2")
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")
    monkeypatch.setattr(checkpoints, "damage", real)
    assert rotation.save(checkpoint_number=4)   # reads back: now the unreadable ckpt-3 and ckpt-1 go
    assert checkpoints.on_disk(str(tmp_path)) == [str(tmp_path / "ckpt-2"), str(tmp_path / "ckpt-4")]


def test_a_damaged_checkpoint_rewritten_under_its_number_is_kept(tmp_path):
    """Resumed from ckpt-1 past a damaged ckpt-2, the run saves step 2 again: the new ckpt-2 is the
    latest, not deleted as the damaged one it replaced."""
    save_steps(str(tmp_path), [1, 2])
    truncate(data_file(str(tmp_path / "ckpt-2")))
    rotation = checkpoints.Rotation(make(), checkpoints.find(str(tmp_path)), keep=3, log=print)
    assert rotation.latest_checkpoint == str(tmp_path / "ckpt-1")
    assert rotation.save(checkpoint_number=2) == str(tmp_path / "ckpt-2")
    assert checkpoints.damage(str(tmp_path / "ckpt-2")) is None
    assert checkpoints.on_disk(str(tmp_path)) == [str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2")]


def test_checkpoints_none_of_which_is_intact_are_an_error(tmp_path):
    save_steps(str(tmp_path), [1, 2])
    for step in (1, 2):
        truncate(data_file(str(tmp_path / f"ckpt-{step}")))
    found = checkpoints.find(str(tmp_path))
    assert found.latest is None and len(found.damaged) == 2
    with pytest.raises(checkpoints.CheckpointError,
                       match=r"holds checkpoints but none reads back whole \(ckpt-2: .*, ckpt-1: "
                             r".*\); move it aside"):
        found.require("move it aside")
    checkpoints.find(str(tmp_path / "empty")).require("never raised: there is nothing")


def test_a_new_rotation_removes_what_a_killed_save_left(tmp_path):
    """TensorFlow's shard directory of an unfinished save, a .tempstate file and the state file's
    write_atomic temporary go; the checkpoints and everything else stay."""
    save_steps(str(tmp_path), [1, 2])
    (tmp_path / "ckpt-3_temp").mkdir()
    (tmp_path / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 10)
    (tmp_path / "ckpt-3.data-00000-of-00001.tempstate123").write_bytes(b"x")
    (tmp_path / ".tmp-abc123").write_text("model_checkpoint_path: ")
    (tmp_path / "best").mkdir()
    (tmp_path / "notes.txt").write_text("keep")
    before = set(os.listdir(tmp_path))
    checkpoints.Rotation(make(), checkpoints.find(str(tmp_path)), keep=3, log=print)
    assert set(os.listdir(tmp_path)) == before - {"ckpt-3_temp", ".tmp-abc123",
                                                  "ckpt-3.data-00000-of-00001.tempstate123"}


LOCALE_SCRIPT = r"""
import os, sys
from tf_dpvae import checkpoints
from tf_dpvae.model import build_model, make_checkpoint, restore_weights
from conftest import tiny_config
assert sys.getfilesystemencoding() == "ascii", sys.getfilesystemencoding()
for directory in sys.argv[1:]:   # surrogate-escaped str: the UTF-8 bytes of a non-ASCII name
    found = checkpoints.find(directory)
    assert found.latest and not found.damaged and not found.state_problem, found
    assert checkpoints.damage(found.latest) is None
    restore_weights(build_model(tiny_config("none", "dp"), (None, 2)), found.latest)
    model = build_model(tiny_config("none", "dp"), (None, 2))
    try:
        checkpoints.Rotation(make_checkpoint(model), found, keep=2).save(4)
    except checkpoints.CheckpointError as err:
        assert "run with LC_ALL=C.UTF-8" in str(err), err
    else:
        raise AssertionError("the save under the C locale did not fail as TensorFlow's does")
    after = checkpoints.find(directory)   # TensorFlow wrote the files before failing: whole or not
    assert after.latest and not after.damaged, after
print("ok")
"""


def test_checkpoints_read_back_under_the_c_locale_with_non_ascii_paths(tmp_path):
    """LC_ALL=C without Python's UTF-8 mode (paths are then surrogate-escaped str): checkpoints under
    non-ASCII directories are found, verified and restored, never called damaged; a save there is
    one clear error, not a traceback (TensorFlow's own write cannot handle such a path)."""
    import subprocess
    import sys

    from tf_dpvae.model import build_model, make_checkpoint

    from conftest import tiny_config

    directories = [tmp_path / "résultats" / "checkpoints", tmp_path / "日本" / "checkpoints"]
    for directory in directories:
        directory.mkdir(parents=True)
        model = build_model(tiny_config("none", "dp"), (None, 2))
        checkpoints.Rotation(make_checkpoint(model), checkpoints.find(str(directory)),
                             keep=2).save(checkpoint_number=3)
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(tests), tests]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", LOCALE_SCRIPT, *map(os.fsencode, directories)],
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == b"ok", done.stderr[-3000:]
