"""Image runs end to end: one training step per input size, TensorBoard image summaries, image grids,
and the CLI's one-line errors for bad image input (exit 2, nothing written)."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tf_dpvae import data as data_lib
from tf_dpvae import plots, training
from tf_dpvae.cli.train import main

from conftest import exit_code

TINY_CONV = {"conv_filters": 4, "conv_units": 16}


def random_splits(shape, n_train=8, n_val=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((n_train + n_val,) + shape).astype(np.float32)
    return data_lib.Splits(images[:n_train], images[n_train:], "random")


def image_summaries(log_dir):
    """{tag: decoded image [H, W, C] uint8} of the last event of each image tag in ``log_dir``."""
    acc = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        event = acc.Tensors(tag)[-1]
        width, height, png = tf.make_ndarray(event.tensor_proto)[:3]
        out[tag] = tf.image.decode_png(png).numpy()
        assert out[tag].shape[:2] == (int(height), int(width))
    return out


@pytest.mark.parametrize("shape, arch, likelihood, prior", [
    ((28, 28, 1), "auto", "bernoulli", "dp"),
    ((28, 28, 1), "factor_mnist", "gaussian", "normal"),
    ((32, 32, 3), "auto", "gaussian", "dp"),
    ((64, 64, 3), "auto", "bernoulli", "normal"),
])
def test_one_training_step_per_size(tmp_path, make_config, shape, arch, likelihood, prior):
    config = make_config("none", prior, model={**TINY_CONV, "arch": arch, "likelihood": likelihood},
                         train={"steps": 1, "batch_size": 4})
    result = training.fit(config, str(tmp_path), splits=random_splits(shape), verbose=0,
                          log=lambda *_: None)
    assert result.step == 1 and np.isfinite(result.final_logs["loss"])
    assert result.model.decode(tf.zeros((1, 2))).shape == (1,) + shape
    images = image_summaries(str(tmp_path / "logs" / "images"))
    expected = {"images/reconstructions", "images/samples"}
    if prior == "dp":
        expected.add("images/samples_vs_unmapped")
    assert set(images) == expected
    # 4 validation images in 4 columns: originals left of reconstructions 8 px apart, 2 px borders,
    # each grid under a 14 px title strip
    side, title = shape[0] + 2, 14
    assert images["images/reconstructions"].shape == (title + side + 2, 2 * (4 * side + 2) + 8,
                                                      shape[2])
    assert images["images/samples"].shape == (title + 8 * side + 2, 8 * side + 2,
                                              shape[2])  # 64 in 8 × 8


def test_image_grid_layout():
    images = np.stack([np.full((3, 2, 1), v, np.float32) for v in (0.0, 0.5, 2.0)])
    grid = plots.image_grid(images, columns=2, pad=1, pad_value=1.0)
    assert grid.shape == (2 * 4 + 1, 2 * 3 + 1, 1)
    assert np.all(grid[1:4, 1:3] == 0.0) and np.all(grid[1:4, 4:6] == 0.5)
    assert np.all(grid[5:8, 1:3] == 1.0)  # 2.0 clipped to 1
    assert np.all(grid[0] == 1.0) and np.all(grid[5:8, 4:6] == 1.0)  # border, empty cell
    both = plots.side_by_side(grid, grid[:4], gap=2)
    assert both.shape == (9, 7 + 2 + 7, 1)


def _bad_npz_dtype(d):
    np.savez(d / "x.npz", images=np.zeros((5, 8, 8), np.int64))
    return f"npz:{d / 'x.npz'}"


def _bad_npz_rank(d):
    # rank 2 is vector data since issue 24; rank 5 is neither vectors nor images
    np.savez(d / "x.npz", images=np.zeros((5, 8, 8, 1, 1), np.uint8))
    return f"npz:{d / 'x.npz'}"


def _npz_without_images(d):
    np.savez(d / "x.npz", labels=np.arange(5), names=np.arange(5))
    return f"npz:{d / 'x.npz'}"


def _empty_folder(d):
    (d / "imgs").mkdir()
    return f"folder:{d / 'imgs'}"


def _non_image_file(d):
    (d / "imgs").mkdir()
    (d / "imgs" / "photo.jpg").write_bytes(b"GIF89a but not really")
    return f"folder:{d / 'imgs'}"


def _no_network_fits(d):
    np.savez(d / "x.npz", images=np.zeros((5, 30, 30), np.uint8))
    return f"npz:{d / 'x.npz'}"


@pytest.mark.parametrize("make, extra, fragment", [
    (lambda d: f"npz:{d / 'missing.npz'}", [], "missing.npz: no such file"),
    (lambda d: f"folder:{d / 'missing'}", [], "missing: no such directory"),
    (_npz_without_images, [], "no data: expected an array named images"),
    (_bad_npz_rank, [], "must have rank 3 (NHW) or 4 (NHWC); got shape (5, 8, 8, 1, 1)"),
    (_bad_npz_dtype, [], "uint8 (0-255) or float in [0, 1]; got dtype int64"),
    (_empty_folder, [], "no image files"),
    (_non_image_file, [], "photo.jpg is not a readable image"),
    (lambda d: "no_such_tfds_set", [], "unknown dataset 'no_such_tfds_set'; accepted:"),
    (lambda d: "mnist", ["--data-dir", "{tmp}"], "'mnist' is not prepared in"),
    (lambda d: "mnist", ["--data-dir", "{tmp}/absent"], "absent' is not a directory"),
    (_no_network_fits, ["--batch-size", "2"], "no network for images of shape (30, 30, 1)"),
    (lambda d: "moons", ["--arch", "conv64"], "takes images [H, W, C]"),
    (lambda d: "moons", ["--image-size", "-3"], "image-size must be an integer in [0, 1024]"),
])
def test_bad_image_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, make, extra,
                                                            fragment):
    dataset = make(tmp_path)
    out = tmp_path / "run"
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code = exit_code(main, ["--dataset", dataset, "--out", str(out), "--steps", "1", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_default_run_directory_of_a_path_dataset_is_flat(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert exit_code(main, ["--dataset", f"npz:{tmp_path / 'missing.npz'}"]) == 2
    assert not (tmp_path / "runs").exists()
