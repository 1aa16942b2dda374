"""What every metric draws from a trained model, in NumPy: encodings of q(z) (``encode``, the one
batch encoder: evaluation, the tuner's LP-FD objective, post-hoc priors and notebooks), prior
samples, their decodings and densities, and the low- and high-posterior samples (paper §4.1) that
``evaluate``, the tuner's LP-FD objective and ``explore`` share.

Low- and high-posterior samples: where the prior and the aggregate posterior disagree.

* **Low-posterior (LP)** samples sit in *pockets*: likely under the prior, unlikely under q(z). Draw
  z ~ p(z) (for the decoupled prior z0 ~ N(0, I), z = g⁻¹(z0)), rank by log q(z) and keep the lowest.
* **High-posterior (HP)** samples sit in *leaks*: drawn from q(z), unlikely under the prior. Draw
  z ~ q(z), rank by the prior density in the generation space, log N(h(z); 0, I) with h = g for the
  decoupled prior (the paper maps z to z0 = g(z) "before computing prior probabilities") and h = id
  otherwise, and keep the lowest.

Both selections reduce to "the k lowest scores" (``lowest_indices``); the caller supplies the scores.

All arrays are float64 NumPy except decodings (float32, as the decoder gives them). Prior draws are
stateless (``model.prior.sample(n, seed)`` with an explicit ``[seed, stream]``), so the same seed
gives the same samples in any order and after a reload.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density
from tf_dpvae.progress import bar

ENCODE_BATCH = 2048
DECODE_BATCH = 1024
LOG_Q_CHUNK = 1024   # points per log q(z) call (the progress bar's unit)


def batched(fn, array, batch=2048, desc=None):
    """fn over [n, ...] in batches → NumPy concatenation (with a progress bar when desc is given)."""
    starts = range(0, len(array), batch)
    if desc:
        starts = bar(starts, desc=desc, unit="batch", leave=False)
    return np.concatenate([np.asarray(fn(array[s:s + batch])) for s in starts])


def encode(model, x, desc=None):
    """q(z|x) of every example x [N, ...] (fed as float32, ``ENCODE_BATCH`` at a time): (means [N, d],
    log_vars [N, d]), float64; the training set's make the aggregate posterior
    q(z) = (1/N) Σ_n N(z; μ_n, σ_n²)."""
    starts = range(0, len(x), ENCODE_BATCH)
    if desc:
        starts = bar(starts, desc=desc, unit="batch", leave=False)
    encoded = [model.encode(tf.constant(x[i:i + ENCODE_BATCH], tf.float32)) for i in starts]
    means = np.concatenate([np.asarray(m) for m, _ in encoded]).astype(np.float64)
    log_vars = np.concatenate([np.asarray(v) for _, v in encoded]).astype(np.float64)
    return means, log_vars


def decode(model, z):
    """E[x | z] of codes z [n, d] → [n, ...]."""
    return batched(lambda b: model.decode_mean(tf.constant(b, tf.float32)), z, DECODE_BATCH)


def log_prior(model, z):
    """The prior's full log density log p(z) [n] (the flow's with its log-determinant)."""
    return batched(lambda b: model.prior.log_prob(tf.constant(b, tf.float32)), z).astype(np.float64)


def log_prior_h(model, z):
    """log N(h(z); 0, I) [n]: eq. 6's ratio and the HP ranking (h = g, or the identity; a post-hoc
    mixture has no separate generation space and gives its own log p(z): ``prior.base_log_prob``)."""
    return batched(lambda b: model.prior.base_log_prob(tf.constant(b, tf.float32)),
                   z).astype(np.float64)


def prior_draw(model, n, seed):
    """z ~ p(z) [n, d], float64: z = g⁻¹(ε), ε ~ N(0, I) drawn with the stateless ``seed`` [2]."""
    z, _ = model.prior.sample(n, tf.constant(seed, tf.int32))
    return z.numpy().astype(np.float64)


def log_q(points, means, log_vars, desc=None):
    """log q(z) [P] of points [P, d], exactly, in chunks of ``LOG_Q_CHUNK`` (a progress bar with desc)."""
    starts = range(0, len(points), LOG_Q_CHUNK)
    if desc:
        starts = bar(starts, desc=desc, unit="chunk", leave=False)
    return np.concatenate([aggregate_posterior_log_density(points[s:s + LOG_Q_CHUNK], means, log_vars)
                           for s in starts])


def lowest_indices(scores, k):
    """Indices of the ``k`` smallest of ``scores`` [S], smallest first (ties keep input order).

    Raises ValueError unless 1 ≤ k ≤ S or if a score is NaN (NaN would sort arbitrarily).
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if not 1 <= k <= len(scores):
        raise ValueError(f"k must be in [1, {len(scores)}], got {k}")
    if np.any(np.isnan(scores)):
        raise ValueError("scores contain NaN")
    return np.argsort(scores, kind="stable")[:k]


def low_posterior_indices(log_q_of_prior_samples, k):
    """LP selection: prior samples [S] scored by log q(z) → indices of the k lowest (most 'pocket')."""
    return lowest_indices(log_q_of_prior_samples, k)


def high_posterior_indices(log_prior_of_posterior_samples, k):
    """HP selection: q(z) samples [S] scored by log N(h(z); 0, I) → indices of the k lowest (most 'leak')."""
    return lowest_indices(log_prior_of_posterior_samples, k)


@dataclasses.dataclass
class LowPosterior:
    """The low-posterior samples: of ``lp_pool``·n prior samples, the n with the lowest log q(z)."""

    z: np.ndarray            # [n, d], lowest log q(z) first
    decoded: np.ndarray      # [n, ...]
    pool_log_q: np.ndarray   # [lp_pool·n] log q(z) of the whole pool
    index: np.ndarray        # [n] the kept samples' places in the pool

    def selection(self) -> dict:
        """What the metrics record about the selection."""
        return {"lp_kept": len(self.index), "lp_pool": len(self.pool_log_q),
                "lp_max_log_q": float(self.pool_log_q[self.index].max()),
                "pool_median_log_q": float(np.median(self.pool_log_q))}


def low_posterior_samples(model, means, log_vars, num_samples, lp_pool, seed, desc=None):
    """LP selection (paper §4.1): draw lp_pool·num_samples z ~ p(z) with ``seed``, rank them by log q(z)
    over the encodings (means, log_vars), keep and decode the num_samples lowest."""
    pool_z = prior_draw(model, lp_pool * num_samples, seed)
    pool_log_q = log_q(pool_z, means, log_vars, desc)
    index = low_posterior_indices(pool_log_q, num_samples)
    lp_z = pool_z[index]
    return LowPosterior(z=lp_z, decoded=decode(model, lp_z), pool_log_q=pool_log_q, index=index)
