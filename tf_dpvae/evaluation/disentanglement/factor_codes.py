"""What the four metrics share: the error they raise, input checks, and drawing (codes, factors) pairs
from a factor source through a representation function (named for what it yields, the codes of
factor draws: ``evaluation.sampling`` is what the other metrics draw from a model).

    representation function  observations [n, ...] → codes [n, d] (for a VAE: the encoder means μ(x))
    factor source            ``datasets.factors.FactorSource``: sample_factors(n, rng) → [n, K] ints,
                             observe(factor indices [n, K]) → observations [n, ...]
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.config import ConfigError
from tf_dpvae.errors import check_positive_int


class DisentanglementError(ConfigError):
    """A disentanglement metric cannot be computed with these inputs; the message names the value.
    A ConfigError, so a command line reports it with exit status 2."""


def check_count(name: str, value) -> int:
    """``value`` as a positive int (a NumPy integer too), else DisentanglementError naming ``name`` and
    the value (``errors.check_positive_int``)."""
    check_positive_int(name, int(value) if isinstance(value, np.integer) else value, DisentanglementError)
    return int(value)


def check_codes(codes, factors, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(codes float64 [N, d], factors int64 [N, K]) after checking shapes, finiteness and types.

    factors are discrete factor indices (or any integer labels); N ≥ 1, d ≥ 1, K ≥ 1.
    """
    where = f" ({what})" if what else ""
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
        raise DisentanglementError(f"representations{where} must be a non-empty array [N, d], got "
                                   f"shape {codes.shape}")
    if factors.ndim != 2 or factors.shape[1] == 0:
        raise DisentanglementError(f"factors{where} must be an array [N, K] with K >= 1 ground-truth "
                                   f"factors, got shape {factors.shape}")
    if factors.shape[0] != codes.shape[0]:
        raise DisentanglementError(f"{codes.shape[0]} representations but {factors.shape[0]} factor "
                                   f"rows{where}")
    if not np.issubdtype(factors.dtype, np.integer):
        if not np.all(np.isfinite(factors)) or np.any(factors != np.round(factors)):
            raise DisentanglementError(f"factors{where} must be discrete (integer indices), got "
                                       f"dtype {factors.dtype} with non-integer values")
    codes = codes.astype(np.float64)
    if not np.all(np.isfinite(codes)):
        raise DisentanglementError(f"representations{where} contain NaN or infinite values")
    return codes, factors.astype(np.int64)


def check_source(source) -> None:
    """A DisentanglementError unless ``source`` is a factor source with at least one factor."""
    if source is None:
        raise DisentanglementError("the data have no ground-truth factors: the disentanglement "
                                   "metrics need a data set with factors (dsprites_procedural)")
    sizes = getattr(source, "factor_sizes", None)
    if not sizes:
        raise DisentanglementError(f"factor source {getattr(source, 'name', source)!r} has no "
                                   f"factors (factor_sizes {sizes!r})")
    if any(int(s) < 1 for s in sizes):
        raise DisentanglementError(f"factor source {getattr(source, 'name', source)!r} has a factor "
                                   f"with no values (factor_sizes {tuple(sizes)})")


def represent_in_batches(represent, observations, batch_size: int = 1024) -> np.ndarray:
    """represent(observations) batch by batch, concatenated: float64 [n, d]."""
    batch_size = check_count("batch_size", batch_size)
    parts = [np.asarray(represent(observations[i:i + batch_size]), np.float64)
             for i in range(0, len(observations), batch_size)]
    out = np.concatenate(parts) if parts else np.zeros((0, 0))
    if out.ndim != 2 or out.shape[0] != len(observations):
        raise DisentanglementError(f"the representation function must return [n, d] for n "
                                   f"observations; got shape {out.shape} for n = {len(observations)}")
    return out


def sample_codes(source, represent, num_points: int, rng, batch_size: int = 1024):
    """(codes float64 [n, d], factor indices int64 [n, K]) for n = num_points factor vectors drawn from
    ``source`` (each factor uniform and independent), observed and represented in batches."""
    check_source(source)
    num_points = check_count("num_points", num_points)
    factors = np.asarray(source.sample_factors(num_points, rng), np.int64)
    codes = np.concatenate([
        represent_in_batches(represent, source.observe(factors[i:i + batch_size]), batch_size)
        for i in range(0, num_points, batch_size)])
    return codes, factors
