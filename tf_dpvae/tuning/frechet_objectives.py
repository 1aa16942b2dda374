"""The Fréchet objectives of the ``tune`` command (``objectives.OBJECTIVES``'s ``fd`` and ``lp_fd``),
built on the evaluation metrics and called after a trial trains as
``compute(model, splits, config) -> float`` (lower is better):

    frechet_distance_objective   FD of decoded prior samples z ~ p(z) against held-out data
    low_posterior_fd_objective   LP-FD: FD of the decoded low-posterior samples (paper §4.1): of
                                 lp_pool·n prior samples, the n with the lowest
                                 log q(z) = log (1/N) Σ_n N(z; μ_n, σ_n²) over the training encodings

    d²(N(μ₁, Σ₁), N(μ₂, Σ₂)) = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})

on the same features as ``python -m tf_dpvae.evaluate``: the data themselves for vector data (two moons),
the penultimate features of the cached classifier (``python -m tf_dpvae.features``) for images. Never
called FID. Sizes are modest by default (2,000 samples against 2,000 held-out examples) so that a trial
stays cheap; the Gaussian fit's bias at this size is the same for every trial, so rankings are fair,
but the values are not comparable with ``evaluate``'s 10,000-sample ones.

Seeds come from the trial's ``config.train.seed``: every trial of a search is scored on the same draws
of ε (z0 = ε), so differences between trials are the models', not the noise's.
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.config import ConfigError
from tf_dpvae.evaluation import frechet, sampling

NUM_SAMPLES = 2_000   # generated (and held-out) examples per Fréchet distance
LP_POOL = 5           # LP: rank LP_POOL·NUM_SAMPLES prior samples by q(z)


class ObjectiveError(ConfigError):
    """A Fréchet objective cannot be computed here (e.g. images without a cached classifier).

    A ConfigError, so that ``python -m tf_dpvae.tune`` reports it in one line with exit status 2.
    """


def objective_features(splits, config):
    """features(x) -> [n, f] for this data set: the data themselves, or the cached classifier's."""
    shape = tuple(splits.example_shape)
    if len(shape) == 1:
        return lambda x: np.asarray(x, np.float64)
    if len(shape) != 3:
        raise ObjectiveError(f"no Fréchet-distance features for examples of shape {shape}")
    from tf_dpvae.evaluation import classifier, feature_networks

    directory = classifier.find_classifier(config.data.dataset)
    if directory is None:
        raise ObjectiveError(
            f"the Fréchet objectives on image data need a feature classifier for "
            f"{config.data.dataset!r} in {classifier.default_classifier_dir(config.data.dataset)!r}; "
            f"train it first with python -m tf_dpvae.features --dataset {config.data.dataset}")
    # a classifier that does not fit raises feature_networks' own EvaluationError (a UserError)
    features, _, _ = feature_networks.feature_function(3, directory, shape)
    return features


def check(splits, config):
    """Raise ObjectiveError now if the objectives could not be computed after training."""
    objective_features(splits, config)


def _held_out(splits, n):
    real = splits.head("validation", n)
    if len(real) < 2:
        raise ObjectiveError("the validation split needs at least 2 examples for a Fréchet distance")
    return real


def _check_sizes(num_samples, lp_pool=1):
    if num_samples < 2 or lp_pool < 1:
        raise ValueError(f"num_samples must be ≥ 2 and lp_pool ≥ 1, got {num_samples}, {lp_pool}")


def frechet_distance_objective(model, splits, config, num_samples=NUM_SAMPLES):
    """FD between num_samples decoded prior samples and the first num_samples held-out examples."""
    _check_sizes(num_samples)
    features = objective_features(splits, config)
    generated = sampling.decode(model, sampling.prior_draw(model, num_samples,
                                                           [config.train.seed, 1]))
    return frechet.frechet_distance_of_samples(features(generated),
                                               features(_held_out(splits, num_samples)))


def low_posterior_fd_objective(model, splits, config, num_samples=NUM_SAMPLES, lp_pool=LP_POOL):
    """LP-FD: FD between the num_samples lowest-q(z) of lp_pool·num_samples decoded prior samples and
    the first num_samples held-out examples; q(z) over every training encoding, exactly. The LP
    samples come from the pipeline ``evaluate`` uses (``sampling.low_posterior_samples``)."""
    _check_sizes(num_samples, lp_pool)
    features = objective_features(splits, config)
    means, log_vars = sampling.encode(model, splits.head("train", splits.num_train))
    lp = sampling.low_posterior_samples(model, means, log_vars, num_samples, lp_pool,
                                        [config.train.seed, 2])
    return frechet.frechet_distance_of_samples(features(lp.decoded),
                                               features(_held_out(splits, num_samples)))
