"""The model: eq. (5) against the closed form, the prior's weights in training, loss scale, steps."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import divergences as dv
from tf_dpvae.model import build_model, make_checkpoint, reconstruction_nll, restore_weights

from conftest import tiny_config


def test_dp_kl_at_identity_matches_closed_form(make_config):
    """A fresh decoupled prior is g = identity; the model's eq.-(5) KL, averaged over n = 40,000
    reparameterized draws for one x, equals the closed form within 4 standard errors."""
    model = build_model(make_config("none", "dp"), (None, 2))
    n = 40_000
    x = tf.tile(tf.constant([[0.5, -1.0]]), [n, 1])
    mean, log_var = model.encode(x[:1])
    closed = float(dv.kl_to_standard_normal(mean, log_var)[0])
    z = model.reparameterize(tf.tile(mean, [n, 1]), tf.tile(log_var, [n, 1]))
    per_draw = dv.kl_monte_carlo(tf.tile(log_var, [n, 1]), model.prior.log_prob(z))
    se = float(tf.math.reduce_std(per_draw)) / math.sqrt(n)
    assert abs(float(tf.reduce_mean(per_draw)) - closed) < 4 * se + 1e-6
    _, terms, _ = model.compute_terms(x)
    assert abs(float(terms["kl"]) - closed) < 4 * se + 1e-6


def test_prior_weights_are_trained_and_get_gradients(make_config):
    model = build_model(make_config("none", "dp"), (None, 2))
    prior_ids = {id(v) for v in model.prior.trainable_weights}
    assert prior_ids and prior_ids <= {id(v) for v in model.trainable_weights}
    assert prior_ids <= {id(v) for v in model.vae_variables}
    x = tf.random.stateless_normal([32, 2], seed=[1, 1])
    with tf.GradientTape() as tape:
        loss, _, _ = model.compute_terms(x)
    grads = tape.gradient(loss, model.prior.trainable_weights)
    heads = [g for g, v in zip(grads, model.prior.trainable_weights) if "head" in v.path]
    # the zero-initialized heads receive gradient at once; the hidden layers after one step
    assert heads and all(g is not None and float(tf.norm(g)) > 0 for g in heads)
    before = [v.numpy().copy() for v in model.prior.trainable_weights]
    for _ in range(2):
        model.train_step(x)
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.prior.trainable_weights)]
    assert all(changed)


def test_reconstruction_nll_keeps_every_constant():
    x = tf.constant([[0.2, 0.4]])
    mean = tf.constant([[0.0, 0.5]])
    gauss = float(reconstruction_nll(x, mean, "gaussian", 0.1)[0])
    expected = -sum(math.log(1 / math.sqrt(2 * math.pi * 0.01)) - (a - b) ** 2 / 0.02
                    for a, b in ((0.2, 0.0), (0.4, 0.5)))
    assert gauss == pytest.approx(expected, rel=1e-5)
    logits = tf.constant([[1.0, -2.0]])
    p = 1 / (1 + np.exp(-np.array([1.0, -2.0])))
    bern = -np.sum([0.2, 0.4] * np.log(p) + [0.8, 0.6] * np.log(1 - p))
    assert float(reconstruction_nll(x, logits, "bernoulli", 0.1)[0]) == pytest.approx(bern, rel=1e-5)


@pytest.mark.parametrize("prior", ["dp", "normal"])
def test_loss_is_reconstruction_plus_the_objectives_loss(make_config, prior):
    model = build_model(make_config("beta", prior, objective={"beta": 3.0}), (None, 2))
    x = tf.random.stateless_normal([20, 2], seed=[2, 2])
    loss, terms, _ = model.compute_terms(x)
    assert float(loss) == pytest.approx(float(terms["recon"] + 3.0 * terms["kl"]), rel=1e-5)
    assert ("log_det" in terms) == (prior == "dp")


def test_factor_step_trains_both_networks_with_their_own_optimizers(make_config):
    model = build_model(make_config("factor", "dp"), (None, 2))
    disc_ids = {id(v) for v in model.discriminator.trainable_variables}
    assert not disc_ids & {id(v) for v in model.vae_variables}
    x = tf.random.stateless_normal([20, 2], seed=[3, 3])
    x2 = tf.random.stateless_normal([20, 2], seed=[4, 4])
    disc_before = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    logs = model.train_step((x, x2))
    assert {"disc_loss", "disc_accuracy", "tc", "kl", "recon", "loss", "log_det"} <= set(logs)
    assert int(model.optimizer.iterations) == 1
    assert int(model.discriminator_optimizer.iterations) == 1
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(disc_before, model.discriminator.trainable_variables))


def test_clip_norm_steps_equal_keras_global_clipnorm_on_one_device(make_config):
    """On one device the model's own clipping (built to stay right under R replicas, where Keras
    clips before the all-reduce) must take the steps Keras's ``global_clipnorm`` takes."""
    import keras

    constant = {"lr_schedule": "constant", "lr": 1e-2}
    config = make_config("none", "dp", train={"clip_norm": 0.05, **constant})
    x = tf.random.stateless_normal([20, 2], seed=[3, 3])
    ours = build_model(config, (None, 2))
    keras_clipped = build_model(config, (None, 2))
    keras_clipped.clip_norm = 0.0  # the model does not clip; its optimizer does
    keras_clipped.compile(optimizer=keras.optimizers.Adam(1e-2, global_clipnorm=0.05))
    keras_clipped.set_weights(ours.get_weights())
    unclipped = build_model(make_config("none", "dp", train=constant), (None, 2))
    unclipped.set_weights(ours.get_weights())
    for _ in range(3):
        for model in (ours, keras_clipped, unclipped):
            model.train_step(x)
    for a, b in zip(ours.vae_variables, keras_clipped.vae_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7, err_msg=a.path)
    # and the bound was active: without it the weights moved elsewhere
    assert max(float(np.max(np.abs(a.numpy() - b.numpy())))
               for a, b in zip(ours.vae_variables, unclipped.vae_variables)) > 1e-4


def test_sampling_is_seeded_and_goes_through_the_inverse_flow(make_config):
    model = build_model(make_config("none", "dp"), (None, 2))
    for coupling in model.prior.couplings:  # make g non-trivial
        coupling.head.kernel.assign(tf.random.stateless_normal(coupling.head.kernel.shape, [5, 5]))
    a = model.sample(50, tf.constant([1, 2]))
    b = model.sample(50, tf.constant([1, 2]))
    np.testing.assert_array_equal(a["images"], b["images"])
    np.testing.assert_allclose(a["z"], model.prior.inverse(tf.identity(a["z0"]) * 1.0), atol=1e-5)
    np.testing.assert_allclose(a["images"], model.decode_mean(a["z"]), atol=1e-5)
    assert not np.allclose(a["z"], a["z0"])


def test_every_objective_reports_its_terms_for_both_priors():
    for reg in ("none", "beta", "betab", "tc", "factor", "info"):
        for prior in ("dp", "normal"):
            model = build_model(tiny_config(reg, prior), (None, 2))
            names = set(model.trackers)
            assert {"loss", "recon", "kl"} <= names
            assert ("log_det" in names) == (prior == "dp")
            assert set(model.objective.term_names) <= names


def test_checkpoint_saves_and_restores_every_weight(tmp_path, make_config):
    config = make_config("factor", "dp")
    trained = build_model(config, (None, 2))
    x = tf.random.stateless_normal([20, 2], seed=[6, 6])
    trained.train_step((x, x))
    path = make_checkpoint(trained).write(str(tmp_path / "ckpt"))
    fresh = build_model(config, (None, 2))
    assert not all(np.array_equal(a.numpy(), b.numpy())
                   for a, b in zip(trained.variables, fresh.variables))
    restore_weights(fresh, path)
    for a, b in zip(trained.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    other = build_model(make_config("factor", "dp", prior={"num_blocks": 6}), (None, 2))
    with pytest.raises(AssertionError):
        restore_weights(other, path)  # two more coupling blocks than the checkpoint has


@pytest.mark.parametrize("warmup", [0, 10])
def test_learning_rate_schedule_is_warmup_then_cosine_to_the_final_fraction(make_config, warmup):
    """η(t) against the closed form of ``learning_rate_schedule``'s docstring, T = 110 steps."""
    from tf_dpvae.model import learning_rate_schedule

    train = make_config("none", "dp", train={"lr": 2e-3, "lr_final_fraction": 0.1,
                                             "warmup_steps": warmup}).train
    total = 110
    schedule = learning_rate_schedule(train, total)
    for t in [0, 5, 10, 40, 60, 109, 110, 500]:
        if t < warmup:
            expected = 2e-3 * t / warmup
        else:
            progress = min(t - warmup, total - warmup) / (total - warmup)
            expected = 2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        assert float(schedule(t)) == pytest.approx(expected, rel=1e-5, abs=1e-9), t
    assert learning_rate_schedule(train.__class__(lr_schedule="constant", lr=3e-4), total) == 3e-4
    assert learning_rate_schedule(train, None) == 2e-3  # loaded for evaluation: no schedule


def test_nelbo_is_reconstruction_plus_kl_for_every_objective(make_config):
    for reg in ("beta", "factor", "info"):
        model = build_model(make_config(reg, "dp"), (None, 2))
        x = tf.random.stateless_normal([20, 2], seed=[1, 2])
        _, terms, _ = model.compute_terms(x, step=tf.constant(0))
        assert float(terms["nelbo"]) == pytest.approx(float(terms["recon"] + terms["kl"]), rel=1e-6)
        assert "nelbo" in model.trackers


def test_validation_passes_after_a_reset_draw_the_same_noise(make_config):
    """Common random numbers for model selection: with the same weights, two validation passes that
    each start with ``reset_evaluation_noise`` agree exactly; without the reset the stream moves on."""
    model = build_model(make_config("none", "dp"), (None, 2))
    x = tf.random.stateless_normal([40, 2], seed=[3, 4])
    model.reset_evaluation_noise()
    first = model.evaluate(x, batch_size=20, verbose=0, return_dict=True)
    moved_on = model.evaluate(x, batch_size=20, verbose=0, return_dict=True)
    model.reset_evaluation_noise()
    again = model.evaluate(x, batch_size=20, verbose=0, return_dict=True)
    assert again["nelbo"] == first["nelbo"] and again["kl"] == first["kl"]
    assert moved_on["nelbo"] != first["nelbo"]


@pytest.mark.parametrize("prior", [{"coupling": "spline", "permutation": "random", "spline_bins": 4},
                                   {"coupling": "affine", "shift_bound": 1.0, "permutation": "lu"}])
def test_flow_options_survive_a_checkpoint(tmp_path, make_config, prior):
    """The random permutations and LU maps are variables: a model built with another seed (other
    permutations, other weights) gives the trained model's flow after the restore."""
    config = make_config("none", "dp", model={"latent_dim": 4}, prior=prior)
    trained = build_model(config, (None, 2))
    x = tf.random.stateless_normal([20, 2], seed=[6, 6])
    trained.train_step((x, x))
    path = make_checkpoint(trained).write(str(tmp_path / "ckpt"))
    other = build_model(config.replace(train={"seed": 5}), (None, 2))
    z = tf.random.stateless_normal([8, 4], seed=[7, 7])
    assert not np.allclose(other.prior.forward(z)[0], trained.prior.forward(z)[0])
    restore_weights(other, path)
    np.testing.assert_array_equal(other.prior.forward(tf.identity(z))[0],
                                  trained.prior.forward(tf.identity(z))[0])
    np.testing.assert_array_equal(other.prior.log_prob(z), trained.prior.log_prob(z))
