"""The decoupled prior against independent answers: inversion on fresh tensors, the autodiff Jacobian,
the change-of-variables density, Keras weight tracking, and stateless sampling; the same for every flow
option (affine with a linear or bounded shift, splines; alternating, reversed, random or LU mixing)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import divergences as dv
from tf_dpvae.priors import DecoupledPrior, StandardNormalPrior, make_prior, random_permutations


def randomized_prior(latent_dim, num_blocks=4, seed=0):
    """A prior whose coupling outputs are non-zero (a fresh prior starts as the identity). Seeded
    whole: the hidden layers' initial weights come from Keras's global RNG, which otherwise depends
    on which tests ran before in the process."""
    import keras

    keras.utils.set_random_seed(seed)
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


# ------------------------------------------------------------------ flow options (issue 22)
COUPLINGS = [("affine", 0.0), ("affine", 1.0), ("spline", 0.0)]   # (coupling, shift_bound)
PERMUTATIONS = ["alternate", "reverse", "random", "lu"]


def option_prior(latent_dim, coupling="affine", shift_bound=0.0, permutation="alternate",
                 num_blocks=3, seed=0):
    """A built prior with the given options and random (non-zero) coupling heads, so g is not the
    identity. Spline heads get a smaller scale: their 3K − 1 logits per coordinate at 0.5 give bins
    at the 1e-3 floor, where a float32 composition of blocks is too ill-conditioned to check."""
    keras.utils.set_random_seed(seed)                     # the hidden layers' initial weights
    prior = DecoupledPrior(latent_dim, num_blocks=num_blocks, hidden_units=16, coupling=coupling,
                           shift_bound=shift_bound, spline_bins=6, permutation=permutation,
                           permutation_seed=seed)
    prior.build((None, latent_dim))
    rng = np.random.default_rng(seed)
    scale = 0.1 if coupling == "spline" else 0.5
    for net in prior.couplings:
        kernel = net.head.kernel
        kernel.assign(rng.normal(scale=scale, size=kernel.shape).astype(np.float32))
    return prior


@pytest.mark.parametrize("latent_dim", [2, 3, 10, 32])
@pytest.mark.parametrize("permutation", PERMUTATIONS)
@pytest.mark.parametrize("coupling, shift_bound", COUPLINGS)
def test_every_option_inverts_on_fresh_tensors_and_its_log_det_is_the_jacobians(
        coupling, shift_bound, permutation, latent_dim):
    """g⁻¹(g(z)) = z within 1e-4 on a fresh tensor, and log|det ∂g/∂z| equals log|det J| of
    autodiff's Jacobian within 1e-4 (float32, |log det| up to ~10)."""
    prior = option_prior(latent_dim, coupling, shift_bound, permutation, seed=latent_dim)
    z = tf.random.stateless_normal([6, latent_dim], seed=[11, latent_dim])
    with tf.GradientTape() as tape:
        tape.watch(z)
        z0, log_det = prior.forward(z)
    assert np.abs(z0 - z).max() > 0.1                     # not the identity
    jacobian = tape.batch_jacobian(z0, z).numpy().astype(np.float64)
    sign, logabsdet = np.linalg.slogdet(jacobian)
    assert np.all(sign != 0)
    np.testing.assert_allclose(log_det, logabsdet, atol=1e-4)
    z_back = prior.inverse(tf.identity(z0) * 1.0)         # a new tensor: no TFP cache hit
    np.testing.assert_allclose(z_back, z, atol=1e-4)


@pytest.mark.parametrize("permutation", PERMUTATIONS)
@pytest.mark.parametrize("coupling, shift_bound", COUPLINGS)
def test_every_option_has_a_normalized_density_in_2d(coupling, shift_bound, permutation):
    """∫ p(z) dz = 1 ± 0.01 by a Riemann sum (eq. 2) on a grid of spacing 0.05 over [−30, 30]² for
    affine blocks (an unbounded random shift carries prior mass to |z| ≈ 30: 2,000 draws reached 32)
    and over [−12, 12]² for splines."""
    prior = option_prior(2, coupling, shift_bound, permutation, seed=5)
    # a spline moves nothing outside [−5, 5]², where the density is N(0, I)'s tail: a smaller box
    grid = (np.linspace(-12, 12, 481, dtype=np.float32) if coupling == "spline"
            else np.linspace(-30, 30, 1201, dtype=np.float32))
    gx, gy = np.meshgrid(grid, grid)
    density = np.exp(prior.log_prob(np.stack([gx.ravel(), gy.ravel()], axis=1)).numpy())
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("permutation", ["alternate", "random"])
def test_spline_flow_is_the_identity_outside_the_box_and_finite_far_out(permutation):
    """Every coordinate outside [−B, B]: each spline is the identity there, so g is exactly the
    composition of the permutations (the identity for alternate), with log-det 0, and g⁻¹ undoes it
    exactly; at ±1e4 log p, g⁻¹ and the gradients stay finite."""
    prior = option_prior(10, "spline", permutation=permutation, seed=3)
    rng = np.random.default_rng(0)
    bound = prior.spline_bound
    z = (np.sign(rng.normal(size=(8, 10))) * (bound + 0.01 + rng.exponential(size=(8, 10))))
    z = tf.constant(z, tf.float32)
    z0, log_det = prior.forward(z)
    if permutation == "alternate":
        np.testing.assert_array_equal(z0, z)
    np.testing.assert_array_equal(np.sort(z0, axis=1), np.sort(z, axis=1))   # the same values
    np.testing.assert_array_equal(log_det, np.zeros(8))
    np.testing.assert_array_equal(prior.inverse(tf.identity(z0) * 1.0), z)
    far = tf.constant(np.concatenate([np.full((2, 10), 1e4), rng.normal(size=(2, 10)) * 1e4,
                                      np.c_[np.full((2, 5), -1e4), rng.normal(size=(2, 5))]]),
                      tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(far)
        log_p = prior.log_prob(far)
    grads = tape.gradient(log_p, [far, *prior.trainable_weights])
    assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(prior.inverse(tf.identity(far))))
    assert all(np.all(np.isfinite(g)) for g in grads if g is not None)


def test_spline_samples_never_leave_the_box_or_the_draw():
    """The spline maps [−B, B] onto itself: |g⁻¹(z0)_i| ≤ max(B, max_j |z0_j|) for every draw."""
    prior = option_prior(10, "spline", permutation="random", seed=4)
    z, z0 = prior.sample(500, tf.constant([1, 2]), temperature=3.0)
    limit = np.maximum(prior.spline_bound, np.abs(z0.numpy()).max(axis=1))
    assert np.all(np.abs(z.numpy()).max(axis=1) <= limit + 1e-4)


@pytest.mark.parametrize("coupling, permutation", [("spline", "random"), ("affine", "lu")])
def test_option_weights_are_tracked_and_get_gradients(coupling, permutation):
    prior = option_prior(4, coupling, permutation=permutation, seed=2)
    extra = 2 if permutation == "lu" else 0                       # two learned LU maps, K − 1 = 2
    assert len(prior.trainable_weights) == 3 * 3 * 2 + extra     # blocks × (2 hidden + head) × 2
    z = tf.random.stateless_normal([32, 4], seed=[10, 10])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(prior.log_prob(z))
    grads = tape.gradient(loss, prior.trainable_weights)
    assert all(g is not None and float(tf.norm(g)) > 0 for g in grads)


def test_random_permutations_are_seeded_stored_and_move_the_conditioning_half():
    a = option_prior(10, permutation="random", seed=1)
    b = option_prior(10, permutation="random", seed=1)
    c = option_prior(10, permutation="random", seed=2)
    stored = [v.numpy().tolist() for v in a.non_trainable_weights]
    assert [v.path.rsplit("/", 1)[-1] for v in a.non_trainable_weights] == ["permutation_0",
                                                                            "permutation_1"]
    assert stored == [v.numpy().tolist() for v in b.non_trainable_weights]
    assert stored != [v.numpy().tolist() for v in c.non_trainable_weights]
    assert all(sorted(p) == list(range(10)) and set(p[:5]) != set(range(5)) for p in stored)
    assert random_permutations(2, 3, seed=0) == [[1, 0]] * 3      # the one that moves anything


def test_defaults_build_todays_chain():
    """No new setting at its default changes the flow: alternating RealNVP blocks, no permutation,
    a linear shift."""
    prior = DecoupledPrior(5, num_blocks=4)
    steps = prior.steps()
    assert [type(s).__name__ for s in steps] == ["RealNVP"] * 4
    assert prior.num_masked == [2, -3, 2, -3]
    assert all(net.shift_bound == 0.0 for net in prior.couplings)
    assert not prior.non_trainable_weights


def test_option_config_round_trip_and_bad_names():
    prior = DecoupledPrior(4, coupling="spline", spline_bins=5, spline_bound=3.0,
                           permutation="lu", permutation_seed=7)
    clone = DecoupledPrior.from_config(prior.get_config())
    assert ((clone.coupling, clone.spline_bins, clone.spline_bound, clone.permutation,
             clone.permutation_seed) == ("spline", 5, 3.0, "lu", 7))
    with pytest.raises(ValueError, match="coupling must be one of"):
        DecoupledPrior(4, coupling="nsf")
