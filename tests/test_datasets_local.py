"""datasets.local: a user's npz:/npy archives (images and vectors) and folder: directories, their
errors, and arrays: names refused."""

import numpy as np
import pytest

from tf_dpvae import data
from tf_dpvae.config import DataConfig


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


def test_arrays_names_are_refused_with_what_to_do():
    with pytest.raises(data.DataError) as err:
        data.load(DataConfig(dataset="arrays:mine"), 0)
    assert "arrays:mine names arrays passed in Python" in str(err.value)
    assert "npz:data.npy" in str(err.value) and "\n" not in str(err.value)
    assert "arrays:PATH" not in data.accepted_names()
