"""Shared test set-up: quiet TensorFlow, CPU only, tiny configurations."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# no disk cache of the real images' features (evaluation.feature_networks): a test's evaluation must
# not read another run's entries from ~/.cache; the tests of the cache set their own directory
os.environ.setdefault("TF_DPVAE_CACHE_DIR", "off")

import pytest  # noqa: E402

from tf_dpvae.config import RunConfig  # noqa: E402


def one_pixel_png(*args, **kwargs) -> bytes:
    """A stand-in for ``moons_figure_png`` (matplotlib: a large share of a tiny 2-D run's time) in
    tests about something other than pictures: a 1×1 RGBA PNG, made when called (no TensorFlow op
    runs before a caller has set its devices up)."""
    import numpy as np
    import tensorflow as tf
    return tf.io.encode_png(np.zeros((1, 1, 4), np.uint8)).numpy()


def exit_code(main, argv):
    """A command's ``main(argv)`` return value, or the status argparse exits with."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def tiny_config(reg="none", prior_kind="dp", **sections):
    """A small, fast configuration; ``sections`` override fields, e.g. train={"steps": 3}.

    The flow is the paper's affine coupling, not the default spline: tracing a spline step's gradient
    takes about three times as long (16 s against 3 s for a 3-step moons run on 2 cores), and most
    tests are about what trains, not which flow. The spline is tested where the flow is the point
    (test_priors, test_networks, test_model, test_export_signatures' flow options) and, as the default, wherever
    a test runs the CLI or ``RunConfig()`` without this helper (test_cli_train, test_api, the notebooks).
    Two coupling blocks, the fewest that move every coordinate (alternating masks): a tiny fit then
    takes about 3.5 s instead of 4.9 s with four (three fits each, one process, 2026-12-04), and the
    suite runs about a hundred of them."""
    base = {
        "objective": {"reg": reg, "disc_units": 16, "disc_layers": 2, "dataset_size": 200},
        "prior": {"kind": prior_kind, "num_blocks": 2, "hidden_units": 16, "coupling": "affine"},
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


@pytest.fixture
def tfds_prepared(monkeypatch):
    """A factory: ``with tfds_prepared(n):`` mocked TFDS data, n examples per split, that report
    themselves prepared, so a loader takes its normal (offline) path (``tfds.testing.mock_data``)."""
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    return lambda num_examples: tfds.testing.mock_data(num_examples=num_examples)


@pytest.fixture
def base_file(tmp_path):
    """The tuning tests' base configuration (``tune --config``), as a file path."""
    path = tmp_path / "base.json"
    # steps=0: every trial runs its full (1) epoch of 10 steps, as train will with the same file
    path.write_text(tiny_config("beta", train={"steps": 0}).replace(prior={"num_blocks": 2}).to_json())
    return str(path)


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
