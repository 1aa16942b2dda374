"""datasets.tfds_source: TFDS image data through tfds.testing.mock_data (preprocessing, CelebA's crop,
resizing, --download, failing fast when not prepared), Fashion-MNIST's TFDS fallback, and the
streamed pipeline a large TFDS data set gets."""

import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import idx


@pytest.fixture
def prepared(tfds_prepared):
    with tfds_prepared(10):
        yield


@pytest.mark.parametrize("name, shape, streamed, labelled", [
    ("mnist", (28, 28, 1), False, True),
    ("svhn_cropped", (32, 32, 3), False, True),
    ("celeb_a", (64, 64, 3), True, False),   # 218×178 faces, centre 148² crop, resized to 64²
    ("cifar10", (32, 32, 3), False, True),   # "any other TFDS image data set by name"
])
def test_tfds_datasets_are_preprocessed_to_unit_float_nhwc(prepared, name, shape, streamed, labelled):
    splits = data.load(DataConfig(dataset=name), seed=0)
    assert splits.name == name and splits.streamed == streamed
    assert splits.example_shape == shape
    for split in ("train", "validation", "test"):
        assert splits.size(split) == 10
        images = splits.head(split, 10)
        assert images.shape == (10,) + shape and images.dtype == np.float32
        assert 0.0 <= images.min() and images.max() <= 1.0
        assert images.std() > 0.05  # real pixel data, not a constant from a broken cast
        labels = getattr(splits, f"{split}_labels")
        if labelled:
            assert labels.shape == (10,) and labels.dtype == np.int64 and labels.max() < 10
        else:
            assert labels is None
    assert (splits.class_names is not None) == labelled


def test_celeb_a_is_the_centre_crop_resized(prepared):
    """The streamed pipeline equals cropping rows 35:183, columns 15:163 and resizing, done by hand."""
    raw = next(iter(tfds.builder("celeb_a").as_dataset(split="test").take(1)))["image"].numpy()
    assert raw.shape == (218, 178, 3)
    expected = tf.image.resize(raw[35:183, 15:163].astype(np.float32) / 255.0, (64, 64),
                               antialias=True).numpy()
    got = data.load(DataConfig(dataset="celeb_a"), seed=0).head("test", 1)[0]
    np.testing.assert_allclose(got, np.clip(expected, 0, 1), atol=1e-5)


def test_image_size_resizes_any_tfds_dataset(prepared):
    splits = data.load(DataConfig(dataset="mnist", image_size=32), seed=0)
    assert splits.example_shape == (32, 32, 1)


def test_download_flag_prepares_then_loads():
    with tfds.testing.mock_data(num_examples=4):  # download_and_prepare is a no-op under the mock
        splits = data.load(DataConfig(dataset="mnist", download=True), seed=0)
    assert splits.train.shape == (4, 28, 28, 1)


def test_unprepared_tfds_dataset_fails_fast_with_what_to_do(tmp_path):
    start = time.monotonic()
    with pytest.raises(data.DataError) as err:
        data.load(DataConfig(dataset="svhn_cropped", data_dir=str(tmp_path)), seed=0)
    assert time.monotonic() - start < 20  # a real tfds.load would retry the network for minutes
    message = str(err.value)
    assert "'svhn_cropped' is not prepared in " + str(tmp_path) in message
    assert "tfds build svhn_cropped --data_dir DIR" in message and "--download" in message
    assert "fashion_mnist" in message and "npz:PATH" in message
    assert os.listdir(tmp_path) == []  # nothing written


def test_non_image_and_unknown_tfds_names_are_clear_errors(tmp_path):
    with pytest.raises(data.DataError, match="unknown dataset 'no_such_set'; accepted: .*celeb_a"):
        data.load(DataConfig(dataset="no_such_set"), 0)
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(data.DataError, match="'imdb_reviews' has no 'image' feature"):
            data.load(DataConfig(dataset="imdb_reviews", download=True), 0)


def test_fashion_mnist_falls_back_to_tfds_without_the_debian_files(prepared, monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "FASHION_MNIST_DIR", str(tmp_path))
    splits = data.load(DataConfig(dataset="fashion_mnist"), seed=0)
    assert splits.train.shape == (10, 28, 28, 1) and splits.class_names is not None


def test_streamed_pipelines_batch_shuffle_and_pair(prepared):
    splits = data.load(DataConfig(dataset="celeb_a"), seed=0)
    train, val = data.make_pipelines(splits, 4, seed=0, paired=True)
    batches = list(train)
    assert len(batches) == 2  # 10 examples, full batches of 4 only
    x, x_other = batches[0]
    assert x.shape == (4, 64, 64, 3) and x.dtype == tf.float32
    assert not np.array_equal(x.numpy(), x_other.numpy())
    assert next(iter(val)).shape == (4, 64, 64, 3)
    again = [b[0].numpy() for b in data.make_pipelines(splits, 4, seed=0, paired=True)[0]]
    np.testing.assert_array_equal(again[0], x.numpy())  # deterministic from the seed
