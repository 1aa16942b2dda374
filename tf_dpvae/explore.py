"""A trained model, looked at from a notebook: the few calls the tutorials in ``notebooks/`` need.

    train_and_evaluate(config, run_dir, settings)   one Table 1 cell in one call: ``training.fit``,
                                 ``evaluation.run.evaluate_run``, ``evaluation.publish.
                                 write_results`` (with the samples of the sample sheets) and the
                                 table's numbers
    pockets_and_leaks(model, ...)   the low- and high-posterior samples (paper §4.1, Fig. 3) in the
                                 representation space z, in the generation space z0 = g(z), decoded
    latent_paths(model, z_a, z_b)   g⁻¹ of the straight line in z0 against the straight line in z
                                 between the same end points (paper Fig. 5), with log q(z) along both

Everything returned is NumPy (float64 for latents and densities), ready for ``tf_dpvae.plots``.
This module joins training and evaluation (through ``experiments.cell``), so nothing in the package
imports it. ``Evaluated`` is ``experiments.cell.Evaluated``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_dpvae import divergences
from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density, sample_aggregate_posterior
from tf_dpvae.config import RunConfig
from tf_dpvae.evaluation import sampling
from tf_dpvae.evaluation.settings import EvalSettings
from tf_dpvae.experiments.cell import Evaluated, train_and_evaluate_cell


def train_and_evaluate(config: RunConfig, run_dir: str, settings: EvalSettings,
                       splits=None, tau: float = -4.0, log=print) -> Evaluated:
    """Train (or resume) ``config`` in ``run_dir``, evaluate its best checkpoint, write ``eval/``:
    ``experiments.cell.train_and_evaluate_cell``, the cell every table runs.

    The run directory then has the layout of one model of ``python -m tf_dpvae.reproduce table1``
    (``eval/metrics.json``, the figures, ``eval/samples.npz``), so a notebook reads runs it trained
    and runs the reproduction trained the same way.

    Args:
      config: the run's ``RunConfig``.
      run_dir: the run directory (new, or an earlier run of the same configuration to resume).
      settings: ``evaluation.run.EvalSettings`` (sizes, seed, the feature classifier for images).
      splits: the data, already loaded (``data.load``), to share it between models; default: loaded.
      tau: the threshold τ of the leakage score reported in ``values["leakage"]``.
      log: where progress lines go.

    Returns: ``experiments.cell.Evaluated`` (run, metrics, figures, arrays, values).

    Raises:
      training.TrainingDiverged, evaluation.run.EvaluationError, config.ConfigError: as the two steps.
    """
    return train_and_evaluate_cell(config, settings, run_dir, splits=splits, tau=tau, log=log)


def _to_z0(model, z):
    """g(z) for the decoupled prior, z itself for the normal prior: [n, d] → [n, d] float64."""
    return model.prior.forward(tf.constant(z, tf.float32))[0].numpy().astype(np.float64)


def pockets_and_leaks(model, train, k: int = 5, pool: int = 5_000, seed: int = 0,
                      means=None, log_vars=None) -> dict:
    """The ``k`` lowest-posterior and ``k`` highest-posterior samples (paper §4.1, Fig. 3).

    * Low-posterior (pockets): ``pool`` prior samples z = g⁻¹(z0), z0 ~ N(0, I) (stateless draw from
      ``[seed, 2]``, as the evaluation's LP pool), ranked by log q(z), the k lowest kept.
    * High-posterior (leaks): ``pool`` samples of q(z) (``numpy`` generator seeded ``seed``), ranked by
      log N(h(z); 0, I) with h = g (dp) or the identity (normal prior), the k lowest kept.

    Args:
      model: a trained ``DPVAE``. train: [N, ...] the training examples whose encodings make q(z).
      k: samples kept of each kind, 1 ≤ k ≤ pool. pool: candidates drawn of each kind.
      seed: non-negative int. means, log_vars: [N, d] encodings of ``train`` when already computed.

    Returns: dict with ``low`` and ``high``, each a dict of ``z`` [k, d], ``z0`` [k, d] (= g(z); = z for
      the normal prior), ``x`` [k, ...] (E[x|z]), ``log_q`` [k] and ``log_base`` [k] (log N(h(z); 0, I)),
      lowest score first; and ``means``, ``log_vars`` [N, d], ``z0_of_means`` [N, d] (g(μ)).

    Raises:
      ValueError: ``k`` outside [1, pool] (``sampling.lowest_indices``).
    """
    if means is None or log_vars is None:
        means, log_vars = sampling.encode(model, train)

    def describe(z):
        z0 = _to_z0(model, z)
        return {"z": z, "z0": z0,
                "x": model.decode_mean(tf.constant(z, tf.float32)).numpy(),
                "log_q": aggregate_posterior_log_density(z, means, log_vars),
                "log_base": divergences.standard_normal_log_density(
                    tf.constant(z0, tf.float64)).numpy()}

    prior_z, _ = model.prior.sample(pool, tf.constant([seed, 2], tf.int32))
    prior_z = prior_z.numpy().astype(np.float64)
    low = sampling.low_posterior_indices(
        aggregate_posterior_log_density(prior_z, means, log_vars), k)
    q_z, _ = sample_aggregate_posterior(means, log_vars, pool, np.random.default_rng(seed))
    high = sampling.high_posterior_indices(
        divergences.standard_normal_log_density(tf.constant(_to_z0(model, q_z))).numpy(), k)
    return {"low": describe(prior_z[low]), "high": describe(q_z[high]), "means": means,
            "log_vars": log_vars, "z0_of_means": _to_z0(model, means)}


def latent_paths(model, z_a, z_b, steps: int = 12, means=None, log_vars=None) -> dict:
    """Two paths from ``z_a`` to ``z_b`` [d] in the representation space (paper Fig. 5).

    * ``flow``: z(t) = g⁻¹((1 − t)·g(z_a) + t·g(z_b)), the straight line in the generation space z0
      mapped back through the flow (for the normal prior g = id and it is the straight line).
    * ``straight``: z(t) = (1 − t)·z_a + t·z_b.

    Args:
      model: a trained ``DPVAE``. z_a, z_b: [d] end points. steps: points per path, ≥ 2.
      means, log_vars: [N, d] training encodings; when given, log q(z) along both paths is returned.

    Returns: dict with ``t`` [steps] and, for ``flow`` and ``straight``, ``z`` [steps, d] and ``x``
      [steps, ...] (E[x|z]), and ``log_q`` [steps] when ``means`` are given.

    Raises:
      ValueError: ``steps`` < 2, or the end points are not two vectors of the latent size.
    """
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    z_a, z_b = (np.asarray(v, np.float64) for v in (z_a, z_b))
    d = int(model.prior.latent_dim)
    if z_a.shape != (d,) or z_b.shape != (d,):
        raise ValueError(f"z_a and z_b must have shape ({d},), got {z_a.shape} and {z_b.shape}")
    t = np.linspace(0.0, 1.0, steps)[:, None]                                  # [T, 1]
    z0_a, z0_b = _to_z0(model, np.stack([z_a, z_b]))
    flow = model.prior.inverse(tf.constant((1 - t) * z0_a + t * z0_b, tf.float32)).numpy()
    paths = {"t": t[:, 0]}
    for name, z in (("flow", flow.astype(np.float64)), ("straight", (1 - t) * z_a + t * z_b)):
        paths[name] = {"z": z, "x": model.decode_mean(tf.constant(z, tf.float32)).numpy()}
        if means is not None and log_vars is not None:
            paths[name]["log_q"] = aggregate_posterior_log_density(z, means, log_vars)
    return paths
