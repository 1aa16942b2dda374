"""Negative log-likelihood by importance sampling (Burda et al. 2016), with q(z|x) as the proposal.

    −log p(x) ≈ −log (1/K) Σ_k w_k,   w_k = p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

computed in log space (logsumexp of log w_k − log K). p(z) is the model's prior: N(0, I), or for the
decoupled prior the flow's log N(g(z); 0, I) + log|det ∂g/∂z| (eq. 2). As K grows the estimate
decreases towards −log p(x); its bias is positive (Jensen), ≈ Var(w)/(2K·E[w]²). The same draws give
the negative ELBO, −(1/K) Σ_k log w_k, which is ≥ the importance-sampled value for every draw
(log of a mean ≥ mean of logs). Units: nats per example, in the data's own scale (e.g. the
standardized coordinates of two moons; for continuous data these are densities, so values may be < 0).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from tf_dpvae import divergences
from tf_dpvae.model import reconstruction_nll


def log_importance_weights(model, x, eps):
    """log w[b, k] = log p(x_b|z_bk) + log p(z_bk) − log q(z_bk|x_b) with z_bk = μ_b + σ_b ε_bk.

    Args:
      model: anything with ``encode(x) -> (mean, log_var)``, ``decode(z)`` (mean or Bernoulli logits),
        ``likelihood``, ``obs_std`` and ``prior.log_prob(z)`` — a ``DPVAE`` or a test double.
      x: [B, ...] data. eps: [B, K, d] standard-normal draws.
    Returns: [B, K] float32.
    """
    mean, log_var = model.encode(x)                                           # [B, d]
    return _log_weights_given_posterior(model, x, mean, log_var, eps)


def _log_weights_given_posterior(model, x, mean, log_var, eps):
    """``log_importance_weights`` with q(z|x) = N(mean, exp(log_var)) already computed."""
    batch, k, d = tf.shape(eps)[0], tf.shape(eps)[1], tf.shape(eps)[2]
    z = mean[:, None, :] + tf.exp(0.5 * log_var)[:, None, :] * eps            # [B, K, d]
    log_q = tf.reduce_sum(divergences.gaussian_log_density(z, mean[:, None, :],
                                                           log_var[:, None, :]), axis=-1)  # [B, K]
    flat_z = tf.reshape(z, [batch * k, d])                                    # [B·K, d]
    log_prior = tf.reshape(model.prior.log_prob(flat_z), [batch, k])
    x_rep = tf.repeat(x, k, axis=0)                                           # [B·K, ...]
    log_lik = -tf.reshape(reconstruction_nll(x_rep, model.decode(flat_z), model.likelihood,
                                             model.obs_std), [batch, k])
    return log_lik + log_prior - log_q


def importance_draws(num_samples, latent_dim, seed, first, count):
    """ε for examples first, …, first + count − 1: [count, K, d], example i's draw
    ``tf.random.stateless_normal([K, d], seed=[seed, i])`` (depends on (seed, i) only)."""
    seed = tf.cast(seed, tf.int64)
    return tf.map_fn(
        lambda i: tf.random.stateless_normal([num_samples, latent_dim], seed=tf.stack([seed, i])),
        tf.cast(first, tf.int64) + tf.range(count, dtype=tf.int64), fn_output_signature=tf.float32)


def _batch_weights_function(model, num_samples, latent_dim, batch_size, chunk):
    """One compiled function for a batch: (x [B, ...], first index, seed) → log w [B, K].

    Draws ε inside (``importance_draws``), encodes once, then decodes the samples ``chunk`` at a time
    (B·chunk pairs per decoder call, sequentially: memory stays at one chunk). Shapes are fixed (the
    caller pads the last batch, ε is padded to a whole number of chunks), so it traces once.
    """
    num_chunks = -(-num_samples // chunk)
    padded = num_chunks * chunk

    @tf.function
    def weights(xb, first, seed):
        eps = importance_draws(num_samples, latent_dim, seed, first, batch_size)   # [B, K, d]
        if padded > num_samples:
            eps = tf.pad(eps, [[0, 0], [0, padded - num_samples], [0, 0]])
        mean, log_var = model.encode(xb)
        if num_chunks == 1:
            return _log_weights_given_posterior(model, xb, mean, log_var, eps)
        chunks = tf.transpose(tf.reshape(eps, [batch_size, num_chunks, chunk, latent_dim]),
                              [1, 0, 2, 3])                                       # [C, B, chunk, d]
        log_w = tf.map_fn(lambda e: _log_weights_given_posterior(model, xb, mean, log_var, e),
                          chunks, fn_output_signature=tf.float32, parallel_iterations=1)
        return tf.reshape(tf.transpose(log_w, [1, 0, 2]), [batch_size, padded])[:, :num_samples]

    return weights


def importance_sampled_nll(model, x, num_samples, seed, batch_size=None, max_pairs=50_000,
                           progress=None):
    """Per-example importance-sampled NLL and negative ELBO.

    The draws for example i depend only on (seed, i), not on the batching: ε_i is
    ``tf.random.stateless_normal([K, d], seed=[seed, i])``, drawn inside one compiled function per
    batch (with fixed shapes: the batches are balanced to at most ``batch_size`` examples and the last
    is padded, so it never retraces).

    Args:
      model: see ``log_importance_weights``. x: [N, ...] NumPy array.
      num_samples: K ≥ 1. seed: int. batch_size: examples per step (default: as many as fit
        ``max_pairs`` (example, sample) pairs, at least 1). progress: optional callable(n) called after
        each batch with the number of examples done in it (e.g. a tqdm bar's ``update``).
    Returns: dict of [N] float64 arrays ``nll``, ``nll_se`` (its sampling standard error by the delta
      method), ``neg_elbo``, ``ess`` (effective sample size (Σw)²/Σw², between 1 and K: a small ESS
      warns that the estimate, and its standard error, are unreliable).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    x = np.asarray(x, np.float32)
    n = len(x)
    if n == 0:
        return {key: np.zeros((0,), np.float64) for key in ("nll", "nll_se", "neg_elbo", "ess")}
    if batch_size is None:
        batch_size = max(1, max_pairs // num_samples)
    batches = -(-n // max(1, batch_size))
    batch_size = -(-n // batches)          # balanced: the padded last batch wastes < `batches` rows
    chunk = max(1, min(num_samples, max_pairs // batch_size))             # samples per decoder call
    d = int(model.encode(x[:1])[0].shape[-1])
    weights = _batch_weights_function(model, num_samples, d, batch_size, chunk)
    seed = tf.constant(seed, tf.int64)

    out = {"nll": [], "nll_se": [], "neg_elbo": [], "ess": []}
    for start in range(0, n, batch_size):
        xb = x[start:start + batch_size]
        count = len(xb)
        if count < batch_size:                                            # pad: the same shapes
            xb = np.concatenate([xb, np.zeros((batch_size - count,) + x.shape[1:], np.float32)])
        log_w = weights(tf.constant(xb), tf.constant(start, tf.int64),
                        seed).numpy()[:count].astype(np.float64)          # [b, K]
        lse = logsumexp(log_w, axis=1)
        out["nll"].append(-(lse - math.log(num_samples)))
        out["neg_elbo"].append(-log_w.mean(axis=1))
        ess = np.exp(2 * lse - logsumexp(2 * log_w, axis=1))
        out["ess"].append(ess)
        # delta method: sd(log mean w) ≈ sd(w)/(√K·mean w), and K·Σw²/(Σw)² − 1 = K/ESS − 1
        out["nll_se"].append(np.sqrt(np.maximum(num_samples / ess - 1.0, 0.0) / num_samples))
        if progress is not None:
            progress(count)
    return {key: np.concatenate(value) for key, value in out.items()}
