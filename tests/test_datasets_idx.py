"""datasets.idx: the real Fashion-MNIST from Debian's IDX files, and a truncated IDX file."""

import numpy as np
import pytest

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import idx


needs_fashion_mnist = pytest.mark.skipif(
    not idx.has_fashion_mnist(), reason=f"Fashion-MNIST IDX files not in {idx.FASHION_MNIST_DIR} "
                                        f"(apt-get install dataset-fashion-mnist)")


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
