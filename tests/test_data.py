import numpy as np
import pytest

from tf_dpvae import data
from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import base


def test_moons_are_standardized_and_deterministic():
    a = data.load(DataConfig(num_examples=1000), seed=3)
    b = data.load(DataConfig(num_examples=1000), seed=3)
    assert a.train.shape == (1000, 2) and a.validation.shape == (100, 2)
    assert a.train.dtype == np.float32
    np.testing.assert_allclose(a.train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(a.train.std(0), 1, atol=1e-4)
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, data.load(DataConfig(num_examples=1000), seed=4).train)


def test_pipelines_batch_and_pair():
    splits = data.load(DataConfig(num_examples=100), seed=0)
    train, val = data.make_pipelines(splits, 30, seed=0, paired=True)
    batches = list(train)
    assert len(batches) == 3  # full batches only
    x, x_other = batches[0]
    assert x.shape == (30, 2) and x_other.shape == (30, 2)
    assert not np.array_equal(x.numpy(), x_other.numpy())
    assert next(iter(val)).shape == (10, 2)


def test_unknown_dataset_and_oversized_batch_are_clear_errors():
    with pytest.raises(data.DataError, match="unknown dataset 'mnist3d'; accepted: .*moons"):
        data.load(DataConfig(dataset="mnist3d"), 0)
    splits = data.load(DataConfig(num_examples=10), seed=0)
    with pytest.raises(data.DataError, match="batch-size 50 is larger than the training set"):
        data.make_pipelines(splits, 50, seed=0)


def test_in_memory_image_pipeline_keeps_shape(tmp_path):
    np.savez(tmp_path / "s.npz", images=np.zeros((30, 8, 8), np.uint8))
    splits = data.load(DataConfig(dataset=f"npz:{tmp_path / 's.npz'}"), seed=0)
    train, val = data.make_pipelines(splits, 9, seed=0)
    assert [b.shape for b in train] == [(9, 8, 8, 1)] * 3
    assert next(iter(val)).shape == (3, 8, 8, 1)
    assert isinstance(splits, base.Splits)


def test_moons_record_their_standardization():
    splits = data.load(DataConfig(num_examples=100), seed=0)
    s = splits.standardization
    from sklearn.datasets import make_moons
    raw = make_moons(110, noise=0.05, random_state=0)[0].astype(np.float32)[:100]
    np.testing.assert_allclose(splits.train * np.asarray(s["std"]) + np.asarray(s["mean"]), raw,
                               atol=1e-5)
