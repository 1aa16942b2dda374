"""Ground-truth factor sources: what the disentanglement metrics sample from.

A factor source has K discrete factors, factor k taking ``factor_sizes[k]`` values on a grid
(``factor_values[k]``, index i → value). It can

    sample_factors(n, rng)   draw factor indices [n, K], each factor uniform and independent
    observe(indices)         the observations (images) of given factor indices [n, K] → [n, ...]

which is the interface of disentanglement_lib's ``GroundTruthData`` (``sample_factors`` and
``sample_observations_from_factors``), so the FactorVAE score can fix one factor and vary the rest.

``FactorSource`` is the base class; ``ArrayFactorSource`` serves a stored data set (observations with
their factor indices) by looking each requested combination up; ``datasets.dsprites`` renders them.
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.datasets.base import DataError


def as_rng(seed_or_rng) -> np.random.Generator:
    """A ``np.random.Generator`` from a seed (int) or a generator (returned as it is)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


class FactorSource:
    """K discrete ground-truth factors and a way to observe any combination of them.

    Subclasses set ``name``, ``factor_names`` (K strings), ``factor_values`` (K 1-D arrays, the value
    of each index) and implement ``observe``.
    """

    name: str = "factors"
    factor_names: tuple[str, ...] = ()
    factor_values: tuple[np.ndarray, ...] = ()

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.factor_values)

    @property
    def num_factors(self) -> int:
        return len(self.factor_values)

    def sample_factors(self, n: int, rng) -> np.ndarray:
        """n factor-index vectors, int64 [n, K]: factor k uniform on {0, …, factor_sizes[k] − 1},
        the factors independent (disentanglement_lib's ``sample_factors``)."""
        rng = as_rng(rng)
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes],
                        axis=1).astype(np.int64).reshape(n, self.num_factors)

    def values(self, indices) -> np.ndarray:
        """Factor indices [n, K] → factor values float64 [n, K]."""
        indices = self.check_indices(indices)
        return np.stack([np.asarray(v, np.float64)[indices[:, k]]
                         for k, v in enumerate(self.factor_values)], axis=1).reshape(indices.shape)

    def check_indices(self, indices) -> np.ndarray:
        """``indices`` as int64 [n, K], or a DataError naming what is wrong."""
        indices = np.asarray(indices)
        if indices.ndim != 2 or indices.shape[1] != self.num_factors:
            raise DataError(f"{self.name}: factor indices must have shape [n, {self.num_factors}] "
                            f"({', '.join(self.factor_names)}); got {indices.shape}")
        if not np.issubdtype(indices.dtype, np.integer):
            raise DataError(f"{self.name}: factor indices must be integers, got {indices.dtype}")
        sizes = np.asarray(self.factor_sizes)
        bad = (indices < 0) | (indices >= sizes)
        if bad.any():
            k = int(np.argwhere(bad)[0, 1])
            raise DataError(f"{self.name}: factor {self.factor_names[k]!r} index out of range "
                            f"[0, {sizes[k]}): {int(indices[bad.any(axis=1)][0, k])}")
        return indices.astype(np.int64)

    def observe(self, indices) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class ArrayFactorSource(FactorSource):
    """Stored observations [N, ...] with their factor indices [N, K].

    ``observe`` returns, for each requested combination, the stored observation with exactly those
    factor indices (the first one if there are several); a combination that is not stored is a
    DataError. A full grid (dSprites, Shapes3D) holds every combination, so the FactorVAE score's
    fixed-factor batches are exact.
    """

    def __init__(self, observations, indices, factor_names, factor_values, name="factors"):
        self.name = name
        self.factor_names = tuple(factor_names)
        self.factor_values = tuple(np.asarray(v) for v in factor_values)
        if len(self.factor_names) != len(self.factor_values) or not self.factor_names:
            raise DataError(f"{name}: needs at least one factor, with one name and one value grid "
                            f"each; got {len(self.factor_names)} names and "
                            f"{len(self.factor_values)} grids")
        self.observations = observations
        indices = self.check_indices(indices)
        if len(indices) != len(observations):
            raise DataError(f"{name}: {len(observations)} observations but {len(indices)} factor "
                            f"rows")
        codes = np.ravel_multi_index(indices.T, self.factor_sizes)
        self._codes, first = np.unique(codes, return_index=True)
        self._rows = first

    def observe(self, indices) -> np.ndarray:
        indices = self.check_indices(indices)
        codes = np.ravel_multi_index(indices.T, self.factor_sizes)
        where = np.searchsorted(self._codes, codes)
        where = np.minimum(where, len(self._codes) - 1)
        missing = self._codes[where] != codes
        if missing.any():
            raise DataError(f"{self.name}: no stored observation has the factors "
                            f"{dict(zip(self.factor_names, indices[missing][0].tolist()))}; the "
                            f"fixed-factor sampling needs the full grid of combinations")
        return self.observations[self._rows[where]]
