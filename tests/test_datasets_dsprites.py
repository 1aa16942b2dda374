"""The procedural dSprites: the factor grid, the renderer (a function of the factors only, every factor
visible), and the data set through ``data.load``."""

import numpy as np
import pytest

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import dsprites


def test_factor_grid_is_deepminds():
    assert dsprites.FACTOR_NAMES == ("shape", "scale", "orientation", "posX", "posY")
    assert dsprites.FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert dsprites.NUM_COMBINATIONS == 737_280
    np.testing.assert_allclose(dsprites.FACTOR_VALUES[1], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert dsprites.FACTOR_VALUES[2][-1] == pytest.approx(2 * np.pi)
    every = dsprites.all_factor_indices()
    assert every.shape == (737_280, 5) and every.dtype == np.int64
    np.testing.assert_array_equal(every[:2], [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1]])  # posY fastest
    np.testing.assert_array_equal(every[-1], [2, 5, 39, 31, 31])
    np.testing.assert_array_equal(np.ravel_multi_index(every.T, dsprites.FACTOR_SIZES),
                                  np.arange(737_280))
    values = dsprites.factor_values([[2, 0, 39, 31, 0]])
    np.testing.assert_allclose(values, [[3.0, 0.5, 2 * np.pi, 1.0, 0.0]])


def test_sampling_is_seeded_and_covers_every_factor():
    a, b = dsprites.sample_factor_indices(4000, 7), dsprites.sample_factor_indices(4000, 7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dsprites.sample_factor_indices(4000, 8))
    assert [len(np.unique(a[:, k])) for k in range(5)] == list(dsprites.FACTOR_SIZES)


@pytest.mark.parametrize("size", [64, 32])
def test_images_are_binary_and_a_function_of_the_factors_only(size):
    factors = dsprites.sample_factor_indices(300, 0)
    images = dsprites.render(factors, size)
    assert images.shape == (300, size, size, 1) and images.dtype == np.float32
    assert set(np.unique(images)) == {0.0, 1.0}
    assert images.reshape(300, -1).sum(axis=1).min() > 0  # no empty image
    # The same factors in another order, in another batch and one at a time: the same images.
    order = np.random.default_rng(1).permutation(300)
    np.testing.assert_array_equal(dsprites.render(factors[order], size), images[order])
    mixed = np.concatenate([factors[:7], dsprites.sample_factor_indices(50, 2)])
    np.testing.assert_array_equal(dsprites.render(mixed, size)[:7], images[:7])
    for i in range(3):
        np.testing.assert_array_equal(dsprites.render(factors[i:i + 1], size)[0], images[i])
    # Sprites are never clipped: the border rows and columns stay empty.
    assert images[:, 0].max() == 0 and images[:, -1].max() == 0
    assert images[:, :, 0].max() == 0 and images[:, :, -1].max() == 0


def reference_image(factors, size):
    """One image from the module docstring's geometry, over the whole frame, in float64."""
    shape, scale, theta, pos_x, pos_y = dsprites.factor_values([factors])[0]
    centre = 0.2 + 0.6 * np.array([pos_x, pos_y])
    x, y = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size)
    dx, dy = x - centre[0], centre[1] - y
    u1 = (np.cos(theta) * dx + np.sin(theta) * dy) / (0.14 * scale)
    u2 = (-np.sin(theta) * dx + np.cos(theta) * dy) / (0.14 * scale)
    if shape == 1:
        inside = np.maximum(abs(u1), abs(u2)) <= 1
    elif shape == 2:
        inside = u1 ** 2 + (u2 / 0.55) ** 2 <= 1
    else:
        a, b = 1.14 * u1, 1.125 * u2 + 0.125
        inside = (a * a + b * b - 1) ** 3 - a * a * b ** 3 <= 0
    return inside.astype(np.float32)[..., None]


@pytest.mark.parametrize("size", [64, 32, 17])
def test_renderer_matches_a_per_image_full_frame_reference(size):
    factors = dsprites.sample_factor_indices(150, 11)
    images = dsprites.render(factors, size)
    reference = np.stack([reference_image(f, size) for f in factors])
    # float32 against float64: a pixel centre exactly on an outline may fall either way.
    assert np.mean(images != reference) < 1e-4
    assert np.mean(np.all(images == reference, axis=(1, 2, 3))) > 0.95


def test_every_factor_changes_the_image():
    """At 64×64, one step of any factor (orientation: not 39 → 0, the same angle) changes the image."""
    base = dsprites.sample_factor_indices(200, 3)
    base[:, 2] = np.minimum(base[:, 2], 38)
    images = dsprites.render(base)
    for k, size in enumerate(dsprites.FACTOR_SIZES):
        moved = base.copy()
        moved[:, k] = np.where(base[:, k] + 1 < size, base[:, k] + 1, base[:, k] - 1)
        changed = np.any(dsprites.render(moved) != images, axis=(1, 2, 3))
        assert changed.all(), (dsprites.FACTOR_NAMES[k], np.flatnonzero(~changed)[:5])
    # The dSprites grid has both 0 and 2π: the same picture, as in DeepMind's data.
    np.testing.assert_array_equal(dsprites.render([[2, 3, 0, 5, 9]]), dsprites.render([[2, 3, 39, 5, 9]]))


def test_each_factor_moves_the_sprite_the_documented_way():
    # posX moves the mass right, posY down, scale grows the area, shape: squares fill most.
    def centre_and_area(factors):
        image = dsprites.render([factors])[0, ..., 0]
        rows, cols = np.nonzero(image)
        return cols.mean(), rows.mean(), image.sum()

    x0, y0, a0 = centre_and_area([0, 0, 0, 0, 0])
    x1, y1, _ = centre_and_area([0, 0, 0, 31, 31])
    _, _, a1 = centre_and_area([0, 5, 0, 0, 0])
    assert x1 - x0 == pytest.approx(0.6 * 64, abs=1) and y1 - y0 == pytest.approx(0.6 * 64, abs=1)
    assert a1 / a0 == pytest.approx(4.0, rel=0.15)   # scale 1 vs 0.5: four times the area
    areas = [centre_and_area([s, 5, 0, 16, 16])[2] for s in range(3)]
    assert areas[0] == max(areas)


def test_loads_through_the_registry_with_factors():
    config = DataConfig(dataset="dsprites_procedural", num_examples=200, image_size=32)
    splits = data.load(config, seed=0)
    assert splits.name == "dsprites_procedural@32"
    assert (splits.size("train"), splits.size("validation"), splits.size("test")) == (200, 20, 20)
    assert splits.example_shape == (32, 32, 1) and splits.train.dtype == np.float32
    assert splits.factor_names == dsprites.FACTOR_NAMES
    assert splits.class_names == ("square", "ellipse", "heart")
    for split in ("train", "validation", "test"):
        factors = getattr(splits, f"{split}_factors")
        assert factors.shape == (splits.size(split), 5) and factors.dtype == np.int64
        np.testing.assert_array_equal(splits.factor_source.observe(factors), getattr(splits, split))
        np.testing.assert_array_equal(getattr(splits, f"{split}_labels"), factors[:, 0])  # shape
    codes = [np.ravel_multi_index(getattr(splits, f"{s}_factors").T, dsprites.FACTOR_SIZES)
             for s in ("train", "validation", "test")]
    assert len(np.unique(np.concatenate(codes))) == 240  # drawn without replacement: disjoint
    again = data.load(config, seed=0)
    np.testing.assert_array_equal(again.train_factors, splits.train_factors)
    other = data.load(config, seed=1)
    assert not np.array_equal(other.train_factors, splits.train_factors)
    native = data.load(DataConfig(dataset="dsprites_procedural", num_examples=20), seed=0)
    assert native.name == "dsprites_procedural" and native.example_shape == (64, 64, 1)
    assert "dsprites_procedural" in data.accepted_names()


def test_bad_sizes_are_clear_errors():
    with pytest.raises(data.DataError, match="image size must be an integer >= 16.*got 8"):
        data.load(DataConfig(dataset="dsprites_procedural", num_examples=20, image_size=8), 0)
    with pytest.raises(data.DataError, match="--num-examples 700000 plus validation and test"):
        data.load(DataConfig(dataset="dsprites_procedural", num_examples=700_000), 0)
    with pytest.raises(data.DataError, match=r"factor 'posX' index out of range \[0, 32\): 32"):
        dsprites.render([[0, 0, 0, 32, 0]])
    with pytest.raises(data.DataError, match=r"shape \[n, 5\]"):
        dsprites.render([[0, 0, 0]])
