"""Each objective layer adds exactly its own loss, by hand formula; schedules; the discriminator."""

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import divergences as dv
from tf_dpvae.config import ConfigError, ObjectiveConfig
from tf_dpvae.networks import Discriminator
from tf_dpvae.regularizers import (REGISTRY, BetaTCVAE, BetaVAEB, BetaVAEH, ELBO, FactorVAE,
                                   InfoVAE, make_objective)


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    b, d = 16, 3
    mean = rng.normal(size=(b, d)).astype(np.float32)
    log_var = (0.3 * rng.normal(size=(b, d))).astype(np.float32)
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(b, d)).astype(np.float32)
    return {
        "kl": rng.uniform(1, 3, size=b).astype(np.float32), "z": tf.constant(z),
        "mean": tf.constant(mean), "log_var": tf.constant(log_var),
        "log_prior_z": dv.standard_normal_log_density(z),
        "prior_z": tf.constant(rng.normal(size=(b, d)).astype(np.float32)),
        "disc_logits": tf.constant(rng.normal(size=(b, 2)).astype(np.float32)),
        "step": tf.constant(500, tf.int64),
    }


def expected_loss(layer, inp, step=500):
    kl = float(np.mean(inp["kl"]))
    if isinstance(layer, BetaVAEH):
        return layer.beta * kl
    if isinstance(layer, BetaVAEB):
        return layer.gamma * abs(kl - layer.capacity_max * min(1.0, step / layer.capacity_steps))
    if isinstance(layer, BetaTCVAE):
        t = dv.total_correlation_terms(inp["z"], inp["mean"], inp["log_var"], inp["log_prior_z"],
                                       layer.dataset_size, layer.estimator)
        return sum(w * float(np.mean(t[k])) for w, k in
                   ((layer.alpha, "mi"), (layer.beta, "tc"), (layer.gamma, "dwkl")))
    if isinstance(layer, FactorVAE):
        logits = inp["disc_logits"].numpy()
        return kl + layer.gamma * float(np.mean(logits[:, 0] - logits[:, 1]))
    if isinstance(layer, InfoVAE):
        mmd = float(dv.mmd(inp["z"], inp["prior_z"], layer.kernel, layer.scale))
        return (1 - layer.alpha) * kl + (layer.alpha + layer.lam - 1) * mmd
    assert isinstance(layer, ELBO)
    return kl


@pytest.mark.parametrize("reg", sorted(REGISTRY))
def test_each_layer_adds_exactly_its_own_loss(reg, inputs):
    config = ObjectiveConfig(reg=reg, beta=3.0, capacity_gamma=7.0, capacity_max=4.0,
                             capacity_steps=1000, tc_alpha=0.5, tc_beta=5.0, tc_gamma=2.0,
                             dataset_size=300, factor_gamma=6.0, info_alpha=0.2, info_lambda=50.0)
    layer = make_objective(config)
    for _ in range(2):  # a second call replaces, never accumulates, the loss
        terms = layer(inputs)
        assert len(layer.losses) == 1
        assert float(layer.losses[0]) == pytest.approx(expected_loss(layer, inputs), rel=1e-4)
    assert set(terms) == set(layer.term_names)
    assert float(terms["kl"]) == pytest.approx(float(np.mean(inputs["kl"])), rel=1e-6)


@pytest.mark.parametrize("reg", sorted(REGISTRY))
def test_warmup_ramps_from_the_elbo_to_the_full_objective(reg, inputs):
    """loss(t) = (1 − w)·KL + w·L_reg with w = min(1, t/W): the plain ELBO's KL at t = 0, the mix at
    t = W/4, the objective unchanged from t = W on (L_reg from the same layer without warm-up)."""
    config = ObjectiveConfig(reg=reg, dataset_size=300, reg_warmup_steps=2000)
    layer = make_objective(config)
    full = make_objective(dataclasses.replace(config, reg_warmup_steps=0))
    kl = float(np.mean(inputs["kl"]))
    for step, weight in ((0, 0.0), (500, 0.25), (2000, 1.0), (9000, 1.0)):
        at_step = {**inputs, "step": tf.constant(step, tf.int64)}
        layer(at_step)
        full(at_step)
        expected = (1 - weight) * kl + weight * float(full.losses[0])
        assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5), step
    assert layer.get_config()["warmup_steps"] == 2000
    with pytest.raises(ConfigError, match="reg-warmup-steps must be a non-negative integer, got -1"):
        ObjectiveConfig(reg_warmup_steps=-1)


def test_registry_rejects_unknown_names():
    with pytest.raises(ValueError, match="reg must be one of none, beta"):
        make_objective(type("C", (), {"reg": "dip"})())


def test_capacity_follows_its_schedule():
    layer = BetaVAEB(gamma=1.0, capacity_max=25.0, capacity_steps=1000)
    values = [float(layer.capacity(tf.constant(t, tf.int64))) for t in (0, 250, 1000, 5000)]
    assert values == pytest.approx([0.0, 6.25, 25.0, 25.0])


def test_discriminator_loss_by_hand():
    joint = tf.constant([[2.0, 0.0], [0.0, 1.0]])
    permuted = tf.constant([[0.0, 3.0], [1.0, 0.0]])
    loss, accuracy = FactorVAE.discriminator_loss(joint, permuted)

    def ce(logits, label):
        return -(logits[label] - math.log(sum(math.exp(v) for v in logits)))
    expected = 0.5 * (np.mean([ce([2, 0], 0), ce([0, 1], 0)]) + np.mean([ce([0, 3], 1), ce([1, 0], 1)]))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(accuracy) == pytest.approx(0.5)


def test_discriminator_beats_chance_on_correlated_codes():
    """Codes with correlation 0.95 against their dimension-permuted copies: a trained discriminator
    separates them (chance = 0.5), and its TC estimate is positive."""
    keras.utils.set_random_seed(0)
    disc = Discriminator(hidden_units=64, hidden_layers=2)
    optimizer = keras.optimizers.Adam(3e-3)
    cov = [[1.0, 0.95], [0.95, 1.0]]
    rng = np.random.default_rng(0)
    for step in range(300):
        z = tf.constant(rng.multivariate_normal([0, 0], cov, size=128).astype(np.float32))
        permuted = dv.permute_dims(z, tf.constant([step, 1]))
        with tf.GradientTape() as tape:
            loss, _ = FactorVAE.discriminator_loss(disc(z), disc(permuted))
        grads = tape.gradient(loss, disc.trainable_variables)
        optimizer.apply_gradients(zip(grads, disc.trainable_variables))
    z = tf.constant(rng.multivariate_normal([0, 0], cov, size=2000).astype(np.float32))
    logits = disc(z)
    _, accuracy = FactorVAE.discriminator_loss(logits, disc(dv.permute_dims(z, tf.constant([7, 7]))))
    assert float(accuracy) > 0.7
    assert float(tf.reduce_mean(logits[:, 0] - logits[:, 1])) > 0.3
