"""tf_dpvae.evaluation.sampling: the low- and high-posterior selection (paper §4.1) against hand answers."""

import numpy as np
import pytest

from tf_dpvae import aggregate_posterior as ap
from tf_dpvae.evaluation import sampling


def test_low_posterior_ranking_finds_the_planted_low_density_points():
    """q is a two-component mixture at ±3; 'prior' samples include 5 planted points at the origin
    and far out, where q is tiny: they must be exactly the 5 lowest."""
    rng = np.random.default_rng(2)
    means = np.array([[-3.0, 0.0], [3.0, 0.0]])
    log_vars = np.log(np.full((2, 2), 0.3))
    typical = means[rng.integers(0, 2, 200)] + rng.normal(size=(200, 2)) * 0.3
    planted = np.array([[0.0, 0.0], [0.0, 1.5], [0.0, -1.5], [-6.5, 2.0], [6.5, -2.0]])
    points = np.concatenate([typical[:100], planted, typical[100:]])
    log_q = ap.aggregate_posterior_log_density(points, means, log_vars)
    chosen = sampling.low_posterior_indices(log_q, 5)
    assert sorted(chosen) == list(range(100, 105))
    assert np.all(np.diff(log_q[chosen]) >= 0)  # lowest first


def test_high_posterior_ranking_and_argument_checks():
    log_prior = np.array([-1.0, -30.0, -2.0, -15.0, -3.0])
    np.testing.assert_array_equal(sampling.high_posterior_indices(log_prior, 2), [1, 3])
    with pytest.raises(ValueError, match="k must be"):
        sampling.lowest_indices(log_prior, 0)
    with pytest.raises(ValueError, match="NaN"):
        sampling.lowest_indices([0.0, np.nan], 1)


@pytest.mark.parametrize("example_shape", [(2,), (28, 28, 1)])
def test_encode_and_decode_run_the_models_functions_in_one_graph_with_the_eager_answers(example_shape):
    """``encode``/``decode`` call ``compiled(model, …)``, a tf.function of the model's own method:
    over batches of several lengths (the encoder's full ``ENCODE_BATCH`` and a remainder) the answers
    match the eager method's batch by batch (float32, 1e-6 relative: graph and eager run the same
    kernels; on CPU they agree bit for bit), each model has its own functions, and a new batch
    length does not trace again once the function has generalized its shape."""
    import tensorflow as tf
    from conftest import tiny_config
    from tf_dpvae.model import build_model

    model = build_model(tiny_config("none", "dp", model={"latent_dim": 3, "conv_filters": 4,
                                                         "conv_units": 8}), (None,) + example_shape)
    x = np.random.default_rng(0).random((sampling.ENCODE_BATCH + 37,) + example_shape, np.float32)
    means, log_vars = sampling.encode(model, x)
    eager = [model.encode(tf.constant(x[s:s + sampling.ENCODE_BATCH])) for s in (0, sampling.ENCODE_BATCH)]
    assert means.dtype == log_vars.dtype == np.float64 and means.shape == log_vars.shape == (len(x), 3)
    np.testing.assert_allclose(means, np.concatenate([m for m, _ in eager]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(log_vars, np.concatenate([v for _, v in eager]), rtol=1e-6, atol=1e-7)

    z = means[:sampling.DECODE_BATCH + 5]
    decoded = sampling.decode(model, z)
    expected = np.concatenate([model.decode_mean(tf.constant(z[s:s + sampling.DECODE_BATCH], tf.float32))
                               for s in (0, sampling.DECODE_BATCH)])
    assert decoded.shape == (len(z),) + example_shape
    np.testing.assert_allclose(decoded, expected, rtol=1e-6, atol=1e-7)

    encoder = sampling.compiled(model, "encode")
    assert sampling.compiled(model, "encode") is encoder            # one function per model
    traced = encoder.experimental_get_tracing_count()
    sampling.encode(model, x[:11])
    assert encoder.experimental_get_tracing_count() == traced       # shape already generalized
    other = build_model(tiny_config("none", "dp", model={"latent_dim": 3, "conv_filters": 4,
                                                         "conv_units": 8}), (None,) + example_shape)
    assert sampling.compiled(other, "encode") is not encoder
