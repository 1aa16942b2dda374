"""Evaluation metrics of the paper (§4.1, §5), one per module, as pure functions.

    frechet              Fréchet distance between Gaussian fits of two feature sets
    aggregate_posterior  log q(z) = log (1/N) Σ_n N(z; μ_n, σ_n²) exactly, and samples from q(z)
    posterior_samples    low-posterior (pockets) and high-posterior (leaks) selection, §4.1
    symmetric_kl         KL[p(z) ‖ q(z)] + KL[q(z) ‖ p(z)] by Monte Carlo with both exact densities
    importance_nll       −log p(x) by importance sampling with q(z|x) as proposal, and the −ELBO
    leakage              the leakage score LS(τ) of eq. (6)
    disentanglement/     MIG, FactorVAE score, DCI, SAP on data with ground-truth factors (issue 13)
    run                  restore a run and compute everything (used by ``python -m tf_dpvae.evaluate``)
    objectives           Fréchet objectives of ``python -m tf_dpvae.tune`` (re-exported below)

Modules here may import ``config``, ``data``, ``model``, ``priors``, ``divergences`` and ``plots``;
never ``training`` or a command-line module. This file imports nothing at import time, so that ``plots`` can
import ``evaluation.aggregate_posterior`` without a cycle; the tuning objectives below import their
module when called.
"""


def frechet_distance_objective(model, splits, config, **sizes):
    """Tuning objective ``fd``: see ``objectives.frechet_distance_objective``."""
    from tf_dpvae.evaluation import objectives

    return objectives.frechet_distance_objective(model, splits, config, **sizes)


def low_posterior_fd_objective(model, splits, config, **sizes):
    """Tuning objective ``lp_fd``: see ``objectives.low_posterior_fd_objective``."""
    from tf_dpvae.evaluation import objectives

    return objectives.low_posterior_fd_objective(model, splits, config, **sizes)


def _check_objective(splits, config):
    """Before any trial: ObjectiveError (a ConfigError) if the Fréchet objectives cannot run here."""
    from tf_dpvae.evaluation import objectives

    objectives.check(splits, config)


frechet_distance_objective.check = _check_objective
low_posterior_fd_objective.check = _check_objective
