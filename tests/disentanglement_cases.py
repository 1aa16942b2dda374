"""Shared by the disentanglement tests: a factor source whose observations are its standardized factor
values, and encoders with known answers (the factors themselves, rotations of them, noise)."""

import numpy as np

from tf_dpvae.datasets.factors import FactorSource

# A 4×4 orthogonal matrix whose entries all have magnitude 1/2: every code mixes every factor equally.
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], float) / 2


class ValueSource(FactorSource):
    """K independent factors with sizes ``sizes``, values linspace(0, 1, size); observe() returns the
    values standardized over each grid, so the "true" encoder is the identity."""

    def __init__(self, sizes=(3, 4, 5, 6), name="values"):
        self.name = name
        self.factor_names = tuple(f"f{k}" for k in range(len(sizes)))
        self.factor_values = tuple(np.linspace(0.0, 1.0, s) for s in sizes)
        self._mean = np.array([v.mean() for v in self.factor_values])
        self._std = np.array([v.std() for v in self.factor_values])

    def observe(self, indices):
        return (self.values(indices) - self._mean) / self._std


def identity(x):
    return np.asarray(x, float)


def rotation(matrix):
    return lambda x: np.asarray(x, float) @ matrix


def random_rotation(dim, seed=0):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def noise(dim, seed=0):
    """Codes independent of the observations (a fresh standard-normal draw per call)."""
    rng = np.random.default_rng(seed)
    return lambda x: rng.normal(size=(len(x), dim))


def sample(source, encoder, n, seed):
    factors = source.sample_factors(n, np.random.default_rng(seed))
    return encoder(source.observe(factors)), factors
