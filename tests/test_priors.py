"""The decoupled prior against independent answers: inversion on fresh tensors, the autodiff Jacobian,
the change-of-variables density, Keras weight tracking, and stateless sampling."""

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import divergences as dv
from tf_dpvae.priors import DecoupledPrior, StandardNormalPrior, make_prior


def randomized_prior(latent_dim, num_blocks=4, seed=0):
    """A prior whose coupling outputs are non-zero (a fresh prior starts as the identity)."""
    prior = DecoupledPrior(latent_dim, num_blocks=num_blocks, hidden_units=16)
    prior.build((None, latent_dim))
    rng = np.random.default_rng(seed)
    for coupling in prior.couplings:
        kernel = coupling.head.kernel
        kernel.assign(rng.normal(scale=0.5, size=kernel.shape).astype(np.float32))
    return prior


def test_fresh_prior_is_the_identity():
    prior = DecoupledPrior(3)
    z = tf.random.stateless_normal([8, 3], seed=[1, 1])
    z0, log_det = prior.forward(z)
    np.testing.assert_allclose(z0, z, atol=1e-6)
    np.testing.assert_allclose(log_det, np.zeros(8), atol=1e-6)


@pytest.mark.parametrize("latent_dim", [2, 3, 5])
def test_inverse_undoes_forward_on_fresh_tensors(latent_dim):
    prior = randomized_prior(latent_dim)
    z = tf.random.stateless_normal([64, latent_dim], seed=[2, latent_dim])
    z0, _ = prior.forward(z)
    assert np.abs(z0 - z).max() > 0.1  # the map is not the identity
    # tf.identity + a new bijector view: no TFP cache can hand back the input.
    z_back = prior.inverse(tf.identity(z0) * 1.0)
    np.testing.assert_allclose(z_back, z, atol=1e-4)
    z0_again, _ = prior.forward(tf.identity(z_back) * 1.0)
    np.testing.assert_allclose(z0_again, z0, atol=1e-4)


@pytest.mark.parametrize("latent_dim", [2, 4])
def test_log_det_matches_autodiff_jacobian(latent_dim):
    prior = randomized_prior(latent_dim, num_blocks=6, seed=3)
    z = tf.random.stateless_normal([16, latent_dim], seed=[4, 4])
    with tf.GradientTape() as tape:
        tape.watch(z)
        z0, log_det = prior.forward(z)
    jacobian = tape.batch_jacobian(z0, z)
    sign, logabsdet = np.linalg.slogdet(jacobian.numpy().astype(np.float64))
    assert np.all(sign != 0)
    np.testing.assert_allclose(log_det, logabsdet, atol=1e-4)


def test_every_coordinate_is_transformed():
    """Alternating masks: with 2 blocks, no output coordinate is left as the identity of its input."""
    prior = randomized_prior(4, num_blocks=2)
    z = tf.random.stateless_normal([4, 4], seed=[5, 5])
    with tf.GradientTape() as tape:
        tape.watch(z)
        z0, _ = prior.forward(z)
    jacobian = tape.batch_jacobian(z0, z).numpy()  # [B, out, in]
    identity_rows = np.all(np.isclose(jacobian, np.eye(4)[None], atol=1e-6), axis=2)  # [B, out]
    assert not identity_rows.any()


def test_density_is_normalized_in_2d():
    """∫ p(z) dz = 1 for the change-of-variables density (eq. 2), by quadrature on a wide grid."""
    prior = randomized_prior(2, seed=6)
    grid = np.linspace(-9, 9, 601, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    density = np.exp(prior.log_prob(points).numpy())
    cell = (grid[1] - grid[0]) ** 2
    assert density.sum() * cell == pytest.approx(1.0, abs=0.01)


def test_log_prob_is_change_of_variables():
    prior = randomized_prior(3, seed=7)
    z = tf.random.stateless_normal([10, 3], seed=[8, 8])
    z0, log_det = prior.forward(z)
    np.testing.assert_allclose(prior.log_prob(z), dv.standard_normal_log_density(z0) + log_det,
                               rtol=1e-5)


def test_log_scale_is_bounded():
    prior = DecoupledPrior(2, num_blocks=1, scale_bound=0.5)
    prior.build((None, 2))
    prior.couplings[0].head.kernel.assign(tf.fill(prior.couplings[0].head.kernel.shape, 100.0))
    z = tf.random.stateless_normal([32, 2], seed=[9, 9]) * 10
    _, log_det = prior.forward(z)
    assert np.all(np.abs(log_det.numpy()) <= 0.5 + 1e-6)


def test_sampling_is_stateless_and_seeded():
    prior = randomized_prior(2)
    a, a0 = prior.sample(100, tf.constant([1, 2]))
    b, _ = prior.sample(100, tf.constant([1, 2]))
    c, _ = prior.sample(100, tf.constant([1, 3]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(prior.forward(tf.identity(a) * 1.0)[0], a0, atol=1e-4)
    hot, _ = StandardNormalPrior(2).sample(4000, tf.constant([3, 3]), temperature=2.0)
    assert float(tf.math.reduce_std(hot)) == pytest.approx(2.0, rel=0.05)


def test_weights_are_tracked_and_get_gradients():
    prior = randomized_prior(2)
    assert len(prior.trainable_weights) == 4 * 3 * 2  # blocks × (2 hidden + head) × (kernel, bias)
    z = tf.random.stateless_normal([32, 2], seed=[10, 10])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(prior.log_prob(z))
    grads = tape.gradient(loss, prior.trainable_weights)
    assert all(g is not None and float(tf.norm(g)) > 0 for g in grads)


def test_make_prior_rejects_unknown_kind_and_one_dimension():
    with pytest.raises(ValueError, match="'dp' or 'normal'"):
        make_prior("flow", 2)
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        DecoupledPrior(1)


def test_config_round_trip():
    prior = DecoupledPrior(3, num_blocks=2, hidden_units=8, scale_bound=0.7)
    clone = DecoupledPrior.from_config(prior.get_config())
    assert (clone.latent_dim, clone.num_blocks, clone.hidden_units, clone.scale_bound) == (3, 2, 8, 0.7)


def fitted_mixture():
    """A 3-component 2-D GaussianMixturePrior with known weights, means and full covariances."""
    weights = np.array([0.2, 0.3, 0.5])
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]])
    covariances = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.3]],
                            [[0.2, 0.0], [0.0, 0.9]]])
    prior = make_prior("gmm", 2, num_components=3)
    prior.assign(weights, means, covariances)
    return prior, weights, means, covariances


def test_mixture_prior_samples_are_seeded_and_follow_the_mixture():
    prior, weights, means, covariances = fitted_mixture()
    z, z0 = prior.sample(40_000, tf.constant([3, 4]))
    again, _ = prior.sample(40_000, tf.constant([3, 4]))
    other, _ = prior.sample(40_000, tf.constant([3, 5]))
    np.testing.assert_array_equal(z, again)
    np.testing.assert_array_equal(z0, z)                  # no separate generation space
    assert not np.allclose(z, other)
    mean = weights @ means                                 # E[z] = Σ π_k μ_k
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(weights, means, covariances))
    np.testing.assert_allclose(z.numpy().mean(0), mean, atol=0.04)
    np.testing.assert_allclose(np.cov(z.numpy().T), second - np.outer(mean, mean), atol=0.08)
    at_zero, _ = prior.sample(7, tf.constant([3, 4]), temperature=0.0)   # T = 0: component means
    assert all(any(np.allclose(row, m) for m in means) for row in at_zero.numpy())


def test_mixture_prior_interface_and_weights():
    """forward's second output is the log-density ratio to N(0, I), so log N(z0) + it = log p(z)
    (the model's KL is right with this prior); base_log_prob is log p(z) itself; the parameters are
    non-trainable variables (the VAE's optimizer never touches them) under the prior's name."""
    prior, *_ = fitted_mixture()
    z = tf.constant(np.random.default_rng(0).normal(size=(6, 2)), tf.float32)
    z0, ratio = prior.forward(z)
    np.testing.assert_allclose(dv.standard_normal_log_density(z0) + ratio, prior.log_prob(z), rtol=1e-5)
    np.testing.assert_allclose(prior.base_log_prob(z), prior.log_prob(z))
    np.testing.assert_array_equal(prior.inverse(z), z)
    assert (prior.kind, prior.base_is_full_density, prior.is_identity) == ("gmm", True, False)
    assert sorted(v.path for v in prior.non_trainable_variables) == [
        "prior/logits", "prior/means", "prior/scale_tril"] and not prior.trainable_variables
    assert (StandardNormalPrior(2).kind, DecoupledPrior(2).kind) == ("normal", "dp")
    with pytest.raises(ValueError, match="num_components must be a positive integer, got 0"):
        make_prior("gmm", 2, num_components=0)
