"""Image data: TFDS through tfds.testing.mock_data, the real Fashion-MNIST files, npz: and folder:."""

import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import base, idx

needs_fashion_mnist = pytest.mark.skipif(
    not idx.has_fashion_mnist(), reason=f"Fashion-MNIST IDX files not in {idx.FASHION_MNIST_DIR} "
                                        f"(apt-get install dataset-fashion-mnist)")


@pytest.fixture
def prepared(monkeypatch):
    """Mocked TFDS data that reports itself prepared, so the loader takes its normal (offline) path."""
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=10):
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


@needs_fashion_mnist
def test_fashion_mnist_reader_matches_the_published_counts():
    train_images, train_labels = idx.read_fashion_mnist("train")
    test_images, test_labels = idx.read_fashion_mnist("test")
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert train_images.dtype == np.uint8 and train_images.max() == 255
    np.testing.assert_array_equal(np.bincount(train_labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test_labels), [1000] * 10)
    np.testing.assert_array_equal(np.bincount(np.concatenate([train_labels, test_labels])),
                                  [7000] * 10)
    splits = data.load(DataConfig(dataset="fashion_mnist"), seed=0)
    assert (splits.size("train"), splits.size("validation"), splits.size("test")) == (
        54000, 6000, 10000)
    assert splits.train.dtype == np.float32 and splits.example_shape == (28, 28, 1)
    np.testing.assert_array_equal(splits.train[:5, ..., 0] * 255, train_images[:5])  # exact /255
    np.testing.assert_array_equal(np.concatenate([splits.train_labels, splits.validation_labels]),
                                  train_labels)
    np.testing.assert_array_equal(splits.test_labels, test_labels)
    assert len(splits.class_names) == 10 and splits.class_names[9] == "Ankle boot"


def test_idx_reader_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
                     + (3).to_bytes(4, "big") + bytes(17))
    with pytest.raises(data.DataError, match=r"shape \(2, 3, 3\) \(18 bytes\).*17 bytes"):
        idx.read_idx(str(path))
    path.write_bytes(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3]))
    np.testing.assert_array_equal(idx.read_idx(str(path)), [1, 2, 3])


@pytest.mark.parametrize("layout", ["NHW", "NHWC"])
def test_npz_round_trip(tmp_path, layout):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 8, 8) + ((3,) if layout == "NHWC" else ()),
                          dtype=np.uint8)
    labels = np.arange(20) % 4
    np.savez(tmp_path / "set.npz", images=images, labels=labels)
    splits = data.load(DataConfig(dataset=f"npz:{tmp_path / 'set.npz'}"), seed=3)
    assert splits.size("train") == 18 and splits.size("validation") == 2 and splits.test is None
    got = np.concatenate([splits.train, splits.validation])
    got_labels = np.concatenate([splits.train_labels, splits.validation_labels])
    expected = images.reshape(20, 8, 8, -1).astype(np.float32) / 255
    order = np.lexsort([got_labels] + [got.reshape(20, -1)[:, i] for i in range(5)])
    ref = np.lexsort([labels] + [expected.reshape(20, -1)[:, i] for i in range(5)])
    np.testing.assert_array_equal(got[order], expected[ref])  # same images, permuted by the seed
    np.testing.assert_array_equal(got_labels[order], labels[ref])
    again = data.load(DataConfig(dataset=f"npz:{tmp_path / 'set.npz'}"), seed=3)
    np.testing.assert_array_equal(again.train, splits.train)  # deterministic from the seed
    other = data.load(DataConfig(dataset=f"npz:{tmp_path / 'set.npz'}"), seed=4)
    assert not np.array_equal(other.train, splits.train)


def test_npz_float_images_and_resizing(tmp_path):
    images = np.random.default_rng(1).random((6, 40, 30, 1)).astype(np.float32)
    np.savez(tmp_path / "f.npz", x=images)
    splits = data.load(DataConfig(dataset=f"npz:{tmp_path / 'f.npz'}", image_size=16), seed=0)
    assert splits.example_shape == (16, 16, 1)
    # the 30×30 centre of a constant image resizes to the same constant
    np.save(tmp_path / "c.npy", np.full((3, 40, 30), 0.25, np.float32))
    splits = data.load(DataConfig(dataset=f"npz:{tmp_path / 'c.npy'}", image_size=16), seed=0)
    np.testing.assert_allclose(splits.train, 0.25, atol=1e-6)


def test_folder_round_trip_with_class_subfolders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    written = {}
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
            written[(cls, i)] = pixels
    (tmp_path / ".DS_Store").write_bytes(b"\0junk")  # hidden files are skipped
    splits = data.load(DataConfig(dataset=f"folder:{tmp_path}"), seed=0)
    assert splits.example_shape == (12, 12, 3) and splits.class_names == ("cats", "dogs")
    got = np.concatenate([splits.train, splits.validation])
    got_labels = np.concatenate([splits.train_labels, splits.validation_labels])
    assert len(got) == 10 and sorted(np.bincount(got_labels)) == [5, 5]
    for image, label in zip(got, got_labels):  # every image comes back, exactly, with its class
        cls = splits.class_names[label]
        assert any(np.array_equal(image * 255, written[(cls, i)].astype(np.float32))
                   for i in range(5))


def test_grey_folder_stays_one_channel(tmp_path):
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((9, 9), 40 * i, np.uint8)).save(tmp_path / f"{i}.jpg", quality=100)
    splits = data.load(DataConfig(dataset=f"folder:{tmp_path}"), seed=0)
    assert splits.example_shape == (9, 9, 1) and splits.class_names is None


@pytest.mark.parametrize("make, fragment", [
    (lambda d: None, "no such file"),
    (lambda d: np.savez(d / "x.npz", labels=np.arange(3), other=np.zeros(3)), "no data: expected"),
    # rank 2 is vector data now (issue 24); rank 5 is neither vectors nor images
    (lambda d: np.savez(d / "x.npz", images=np.zeros((4, 5, 5, 1, 1), np.uint8)), "rank 3 (NHW) or 4"),
    (lambda d: np.savez(d / "x.npz", x=np.array([[1.0, np.nan], [0.0, 1.0]])), "must be finite"),
    (lambda d: np.savez(d / "x.npz", x=np.zeros((4, 2), bool)), "must be numbers"),
    (lambda d: np.savez(d / "x.npz", images=np.zeros((4, 5, 5), np.int32)), "got dtype int32"),
    (lambda d: np.savez(d / "x.npz", images=np.full((4, 5, 5), 3.0)), "must lie in [0, 1]"),
    (lambda d: np.savez(d / "x.npz", images=np.zeros((4, 5, 5, 2), np.uint8)), "1 (grey) or 3"),
    (lambda d: (d / "x.npz").write_text("not an archive"), "not a NumPy .npz/.npy file"),
])
def test_bad_npz_is_a_data_error(tmp_path, make, fragment):
    make(tmp_path)
    with pytest.raises(data.DataError) as err:
        data.load(DataConfig(dataset=f"npz:{tmp_path / 'x.npz'}"), 0)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_bad_folders_are_data_errors(tmp_path):
    from PIL import Image

    with pytest.raises(data.DataError, match="no such directory"):
        data.load(DataConfig(dataset=f"folder:{tmp_path / 'absent'}"), 0)
    with pytest.raises(data.DataError, match="no image files"):
        data.load(DataConfig(dataset=f"folder:{tmp_path}"), 0)
    (tmp_path / "a.png").write_bytes(b"this is not a png")
    with pytest.raises(data.DataError, match="a.png is not a readable image"):
        data.load(DataConfig(dataset=f"folder:{tmp_path}"), 0)
    (tmp_path / "a.png").unlink()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(data.DataError, match="notes.txt is not an image file"):
        data.load(DataConfig(dataset=f"folder:{tmp_path}"), 0)
    (tmp_path / "notes.txt").unlink()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(data.DataError, match="different sizes.*--image-size"):
        data.load(DataConfig(dataset=f"folder:{tmp_path}"), 0)
    assert data.load(DataConfig(dataset=f"folder:{tmp_path}", image_size=8), 0).example_shape == (
        8, 8, 1)


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


def test_in_memory_image_pipeline_keeps_shape(tmp_path):
    np.savez(tmp_path / "s.npz", images=np.zeros((30, 8, 8), np.uint8))
    splits = data.load(DataConfig(dataset=f"npz:{tmp_path / 's.npz'}"), seed=0)
    train, val = data.make_pipelines(splits, 9, seed=0)
    assert [b.shape for b in train] == [(9, 8, 8, 1)] * 3
    assert next(iter(val)).shape == (3, 8, 8, 1)
    assert isinstance(splits, base.Splits)


def test_crop_and_resize_handles_images_of_varying_size():
    """TFDS features like [None, None, 3] (e.g. tf_flowers) need the crop computed in the graph."""
    sizes = [(40, 30), (20, 50)]
    ds = tf.data.Dataset.from_generator(
        lambda: (np.full((h, w, 3), 0.5, np.float32) for h, w in sizes),
        output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    out = list(ds.map(lambda x: base.crop_and_resize(x, 16)).as_numpy_iterator())
    assert [x.shape for x in out] == [(16, 16, 3)] * 2
    np.testing.assert_allclose(out, 0.5, atol=1e-6)
    x = np.random.default_rng(0).random((2, 40, 30, 1)).astype(np.float32)
    np.testing.assert_array_equal(base.crop_and_resize(x, 30), x[:, 5:35])  # crop only, no resize


def test_npz_and_npy_vectors_are_standardized_with_the_constants_recorded(tmp_path):
    """Vector data [N, D] from a file (issue 24): 10% held out after a seeded permutation, both splits
    standardized with the training split's mean and standard deviation, and those constants map the
    standardized training split back to the very rows of the file."""
    rng = np.random.default_rng(0)
    x = rng.normal([3.0, -2.0, 10.0], [0.5, 2.0, 4.0], size=(200, 3))
    np.save(tmp_path / "v.npy", x)
    np.savez(tmp_path / "v.npz", x=x, labels=np.arange(200) % 4)
    for name in ("v.npy", "v.npz"):
        splits = data.load(DataConfig(dataset=f"npz:{tmp_path / name}"), seed=1)
        assert splits.example_shape == (3,) and splits.train.dtype == np.float32
        assert (splits.num_train, splits.size("validation")) == (180, 20)
        np.testing.assert_allclose(splits.train.mean(axis=0), 0.0, atol=1e-5)
        np.testing.assert_allclose(splits.train.std(axis=0), 1.0, atol=1e-5)
        s = splits.standardization
        back = splits.train * np.asarray(s["std"]) + np.asarray(s["mean"])
        order = np.random.default_rng(1).permutation(200)[:180]
        np.testing.assert_allclose(back, x[order], rtol=1e-5, atol=1e-5)
    assert splits.train_labels is not None and splits.train_labels.shape == (180,)
    with pytest.raises(data.DataError, match="applies to images"):
        data.load(DataConfig(dataset=f"npz:{tmp_path / 'v.npy'}", image_size=8), 0)


def test_moons_record_their_standardization():
    splits = data.load(DataConfig(num_examples=100), seed=0)
    s = splits.standardization
    from sklearn.datasets import make_moons
    raw = make_moons(110, noise=0.05, random_state=0)[0].astype(np.float32)[:100]
    np.testing.assert_allclose(splits.train * np.asarray(s["std"]) + np.asarray(s["mean"]), raw,
                               atol=1e-5)


def test_arrays_names_are_refused_with_what_to_do():
    with pytest.raises(data.DataError) as err:
        data.load(DataConfig(dataset="arrays:mine"), 0)
    assert "arrays:mine names arrays passed in Python" in str(err.value)
    assert "npz:data.npy" in str(err.value) and "\n" not in str(err.value)
    assert "arrays:PATH" not in data.accepted_names()
