"""Factor sources: sampling, index checks, and the stored-array source's look-up."""

import numpy as np
import pytest

from tf_dpvae.datasets import dsprites
from tf_dpvae.datasets.base import DataError
from tf_dpvae.datasets.factors import ArrayFactorSource


def grid_source(drop_last=False):
    values = (np.array([10.0, 20.0]), np.array([0.0, 0.5, 1.0]))
    every = np.stack(np.meshgrid(np.arange(2), np.arange(3), indexing="ij"), -1).reshape(-1, 2)
    every = every[::-1]  # stored in some other order
    if drop_last:
        every = every[1:]
    observations = every[:, 0] * 100 + every[:, 1]  # an observation that names its factors
    return ArrayFactorSource(observations, every, ("a", "b"), values, name="grid")


def test_array_source_returns_the_stored_observation_of_each_combination():
    source = grid_source()
    assert source.factor_sizes == (2, 3) and source.num_factors == 2
    np.testing.assert_array_equal(source.observe([[1, 2], [0, 0], [1, 0]]), [102, 0, 100])
    np.testing.assert_allclose(source.values([[1, 2]]), [[20.0, 1.0]])
    factors = source.sample_factors(50, 0)
    np.testing.assert_array_equal(source.observe(factors), factors[:, 0] * 100 + factors[:, 1])


def test_array_source_over_rendered_dsprites_matches_the_renderer():
    factors = dsprites.sample_factor_indices(30, 0)
    images = dsprites.render(factors, 32)
    source = ArrayFactorSource(images, factors, dsprites.FACTOR_NAMES, dsprites.FACTOR_VALUES)
    np.testing.assert_array_equal(source.observe(factors[::-1]), images[::-1])


def test_missing_combinations_and_bad_indices_are_clear_errors():
    with pytest.raises(DataError, match=r"no stored observation has the factors \{'a': 1, 'b': 2\}"):
        grid_source(drop_last=True).observe([[0, 1], [1, 2]])
    with pytest.raises(DataError, match=r"factor 'b' index out of range \[0, 3\): 3"):
        grid_source().observe([[0, 3]])
    with pytest.raises(DataError, match="must be integers"):
        grid_source().observe([[0.5, 1.0]])
    with pytest.raises(DataError, match="needs at least one factor"):
        ArrayFactorSource(np.zeros(3), np.zeros((3, 0), int), (), ())
    with pytest.raises(DataError, match="3 observations but 2 factor rows"):
        ArrayFactorSource(np.zeros(3), np.zeros((2, 1), int), ("a",), (np.arange(2),))
