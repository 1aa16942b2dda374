"""Shared test set-up: quiet TensorFlow, CPU only, tiny configurations."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

from tf_dpvae.config import RunConfig  # noqa: E402


def tiny_config(reg="none", prior_kind="dp", **sections):
    """A small, fast configuration; ``sections`` override fields, e.g. train={"steps": 3}."""
    base = {
        "objective": {"reg": reg, "disc_units": 16, "disc_layers": 2, "dataset_size": 200},
        "prior": {"kind": prior_kind, "num_blocks": 4, "hidden_units": 16},
        "model": {"hidden_units": 16, "hidden_layers": 2},
        "data": {"num_examples": 200},
        "train": {"epochs": 1, "batch_size": 20, "steps": 3},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return RunConfig().replace(**base)


@pytest.fixture
def make_config():
    return tiny_config


def mounted_tmpfs(point, size):
    """Mount a tmpfs of ``size`` (e.g. "8m") at the new directory ``point``; yield it, then unmount.
    Skips the test where mounting is not allowed (it needs root)."""
    import subprocess

    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield point
    subprocess.run(["umount", "-l", str(point)], capture_output=True)
