"""DeepMind's dSprites and 3D Shapes through TFDS (tfds.testing.mock_data), with their factors."""

import time

import numpy as np
import pytest

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import tfds_factors


@pytest.fixture
def prepared(tfds_prepared):
    with tfds_prepared(60):
        yield


@pytest.mark.parametrize("name, shape, sizes", [
    ("dsprites", (64, 64, 1), (3, 6, 40, 32, 32)),
    ("shapes3d", (64, 64, 3), (10, 10, 10, 8, 4, 15)),
])
def test_factor_labels_come_with_the_images(prepared, name, shape, sizes):
    splits = data.load(DataConfig(dataset=name, num_examples=40), seed=0)
    assert splits.name == name and splits.example_shape == shape
    assert (splits.size("train"), splits.size("validation"), splits.size("test")) == (40, 4, 4)
    assert splits.factor_names == tfds_factors.FACTOR_DATASETS[name][1]
    source = splits.factor_source
    assert source.factor_sizes == sizes
    for split in ("train", "validation", "test"):
        factors = getattr(splits, f"{split}_factors")
        assert factors.shape == (splits.size(split), len(sizes)) and factors.dtype == np.int64
        assert (factors >= 0).all() and (factors < np.array(sizes)).all()
    images = splits.train
    assert images.dtype == np.float32 and images.min() >= 0
    # The source serves a stored combination (the mock's factors are random, so duplicates of a
    # combination may hold other images: compare one whose combination is unique).
    codes = np.ravel_multi_index(splits.train_factors.T, sizes)
    unique = np.flatnonzero(np.bincount(codes, minlength=codes.max() + 1)[codes] == 1)
    np.testing.assert_array_equal(source.observe(splits.train_factors[unique[:3]]), images[unique[:3]])


def test_dsprites_pixels_are_used_as_zero_and_one(prepared):
    # TFDS stores dSprites' pixels as 0/1; the mock fills 0-255, so values above 1 show the scale is 1.
    splits = data.load(DataConfig(dataset="dsprites", num_examples=40), seed=0)
    assert splits.train.max() > 1.0
    shapes = data.load(DataConfig(dataset="shapes3d", num_examples=40), seed=0)
    assert shapes.train.max() <= 1.0


def test_unprepared_fails_fast_naming_the_offline_alternative(tmp_path):
    start = time.monotonic()
    with pytest.raises(data.DataError, match="'dsprites' is not prepared.*dsprites_procedural"):
        data.load(DataConfig(dataset="dsprites", data_dir=str(tmp_path)), seed=0)
    assert time.monotonic() - start < 20
