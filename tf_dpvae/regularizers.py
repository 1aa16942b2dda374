"""The six objectives as Keras loss layers, one registry (paper §4.3).

Each layer receives tensors, never the model, computes the regularization part of the loss (everything
but the reconstruction term), adds exactly that with ``add_loss`` and returns the scalar terms it wants
tracked. All terms are per example, averaged over the batch. Inputs, a dict of tensors:

    kl           [B]     KL[q(z|x) ‖ p(z)]: closed form for N(0, I), eq. (5) for the decoupled prior
    z            [B, d]  reparameterized sample of q(z|x), in the representation space
    mean, log_var [B, d] the posterior's parameters
    log_prior_z  [B]     log p(z) under the model's prior (the flow's, log-determinant included)
    prior_z      [B, d]  samples of p(z) in z (g⁻¹ of N(0, I) draws under the decoupled prior)
    disc_logits  [B, 2]  FactorVAE discriminator logits at z
    step         []      training step, for schedules

An objective whose estimator is a batch statistic (not a mean of per-example terms) names the inputs it
needs whole in ``global_batch_inputs``: under a strategy with R > 1 replicas the model all-gathers those
over the replicas, so each replica's objective sees the global batch (B·R rows, in the single-device
order) and the estimate equals the single-device one. ``kl`` stays per replica (a per-example mean).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_dpvae import divergences
from tf_dpvae.config import ObjectiveConfig


class Objective(keras.layers.Layer):
    """Base class: subclasses set ``term_names`` and implement ``regularize(inputs) -> (loss, terms)``.

    ``warmup_steps`` W > 0 ramps the regularizer in: loss(t) = (1 − w)·KL + w·L_reg, w = min(1, t/W),
    so training starts from the plain ELBO (w = 0) and reaches the full objective at step W. KL is
    ``inputs["kl"]`` (eq. 5 under the decoupled prior). The step t is the optimizer's, restored by the
    checkpoint, so a resumed run continues the ramp. W = 0 (the default) is the objective unchanged.
    """

    term_names: tuple[str, ...] = ("kl",)
    needs_log_prior = False
    needs_prior_samples = False
    needs_discriminator = False
    global_batch_inputs: tuple[str, ...] = ()  # batch statistics: all-gathered across replicas

    def __init__(self, warmup_steps: int = 0, **kwargs):
        super().__init__(**kwargs)
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.warmup_steps = warmup_steps

    def warmup_weight(self, step):
        """w(t) = min(1, t / W) for the step t (1 when W = 0)."""
        if self.warmup_steps == 0:
            return tf.constant(1.0)
        return tf.minimum(1.0, tf.cast(step, tf.float32) / float(self.warmup_steps))

    def call(self, inputs):
        loss, terms = self.regularize(inputs)
        if self.warmup_steps:
            weight = self.warmup_weight(inputs["step"])
            loss = (1.0 - weight) * tf.reduce_mean(inputs["kl"]) + weight * loss
        self.add_loss(loss)
        return terms

    def regularize(self, inputs):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class ELBO(Objective):
    """``none``: the plain negative ELBO's KL term, loss = KL."""

    def regularize(self, inputs):
        kl = tf.reduce_mean(inputs["kl"])
        return kl, {"kl": kl}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class BetaVAEH(Objective):
    """``beta``: β-VAE-H (Higgins et al. 2017), loss = β·KL."""

    def __init__(self, beta: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def regularize(self, inputs):
        kl = tf.reduce_mean(inputs["kl"])
        return self.beta * kl, {"kl": kl}

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class BetaVAEB(Objective):
    """``betab``: β-VAE-B (Burgess et al. 2018), loss = γ·|KL − C(t)|, C(t) = C_max·min(1, t/T).

    KL is the batch mean of the per-example KL, C in nats per example; t is the optimizer's step, which
    the checkpoint restores, so a resumed run continues the schedule where it stopped.
    """

    term_names = ("kl", "capacity")

    def __init__(self, gamma: float = 15.0, capacity_max: float = 5.0, capacity_steps: int = 2000,
                 **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma
        self.capacity_max = capacity_max
        self.capacity_steps = capacity_steps

    def capacity(self, step):
        """C(t) = C_max·min(1, t / T) for the step t (any numeric scalar tensor)."""
        fraction = tf.minimum(1.0, tf.cast(step, tf.float32) / float(self.capacity_steps))
        return self.capacity_max * fraction

    def regularize(self, inputs):
        kl = tf.reduce_mean(inputs["kl"])
        capacity = self.capacity(inputs["step"])
        return self.gamma * tf.abs(kl - capacity), {"kl": kl, "capacity": capacity}

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "capacity_max": self.capacity_max,
                "capacity_steps": self.capacity_steps}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class BetaTCVAE(Objective):
    """``tc``: β-TCVAE (Chen et al. 2018), loss = α·MI + β·TC + γ·DWKL, in the representation space.

    The three terms replace the KL (α = β = γ = 1 is the plain ELBO). With the decoupled prior, p(z) in
    DWKL is the flow's full density, log-determinant included (the reference code drops it, which is not
    a density and pushes the flow to shrink ‖g(z)‖). See ``divergences.total_correlation_terms``.

    Since TC + DWKL = log q(z) − log p(z), the loss equals α·MI + (β − γ)·TC + γ·KL[q(z) ‖ p(z)]: the
    effective TC weight is β − γ and γ weighs the aggregate posterior's KL to the prior. Under the normal
    prior DWKL = Σ_k KL[q(z_k) ‖ N(0, 1)]; under the decoupled prior p(z) does not factorize, and DWKL is
    E_q[Σ_k log q(z_k) − log p(z)] = KL[q(z) ‖ p(z)] − TC, not a KL, and can be negative.
    """

    term_names = ("kl", "mi", "tc", "dwkl")
    needs_log_prior = True
    # log q(z) and log q(z_k) are B×B minibatch estimates: every sample under every posterior
    global_batch_inputs = ("z", "mean", "log_var", "log_prior_z")

    def __init__(self, alpha: float = 1.0, beta: float = 6.0, gamma: float = 1.0,
                 dataset_size: int = 10000, estimator: str = "mss", **kwargs):
        super().__init__(**kwargs)
        if dataset_size < 1:
            raise ValueError(f"dataset_size must be >= 1, got {dataset_size}")
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.dataset_size = dataset_size
        self.estimator = estimator

    def regularize(self, inputs):
        parts = divergences.total_correlation_terms(
            inputs["z"], inputs["mean"], inputs["log_var"], inputs["log_prior_z"],
            self.dataset_size, self.estimator)
        mi, tc, dwkl = (tf.reduce_mean(parts[k]) for k in ("mi", "tc", "dwkl"))
        loss = self.alpha * mi + self.beta * tc + self.gamma * dwkl
        return loss, {"kl": tf.reduce_mean(inputs["kl"]), "mi": mi, "tc": tc, "dwkl": dwkl}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta,
                "gamma": self.gamma, "dataset_size": self.dataset_size,
                "estimator": self.estimator}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class FactorVAE(Objective):
    """``factor``: FactorVAE (Kim & Mnih 2018), loss = KL + γ·TC, TC ≈ E_q[logit₀(z) − logit₁(z)].

    The discriminator (a separate network with its own optimizer, owned by the model) sees z in the
    representation space; class 0 = q(z) samples, class 1 = dimension-permuted samples of another batch.
    """

    term_names = ("kl", "tc")
    needs_discriminator = True

    def __init__(self, gamma: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def regularize(self, inputs):
        logits = inputs["disc_logits"]
        kl = tf.reduce_mean(inputs["kl"])
        tc = tf.reduce_mean(logits[:, 0] - logits[:, 1])
        return kl + self.gamma * tc, {"kl": kl, "tc": tc}

    @staticmethod
    def discriminator_loss(logits_joint, logits_permuted):
        """½[CE(D(z), 0) + CE(D(z̃), 1)] and the accuracy on both halves. logits: [B, 2] → ([], [])."""
        ce = keras.losses.sparse_categorical_crossentropy
        zeros = tf.zeros(tf.shape(logits_joint)[:1], tf.int32)
        ones = tf.ones(tf.shape(logits_permuted)[:1], tf.int32)
        loss = 0.5 * (tf.reduce_mean(ce(zeros, logits_joint, from_logits=True))
                      + tf.reduce_mean(ce(ones, logits_permuted, from_logits=True)))
        correct = tf.concat([tf.cast(tf.argmax(logits_joint, -1) == 0, tf.float32),
                             tf.cast(tf.argmax(logits_permuted, -1) == 1, tf.float32)], axis=0)
        return loss, tf.reduce_mean(correct)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class InfoVAE(Objective):
    """``info``: InfoVAE-MMD (Zhao et al. 2019), loss = (1 − α)·KL + (α + λ − 1)·MMD(q(z), p(z)).

    MMD compares the batch of q(z) samples with as many samples of the prior in z (under R replicas the
    global batch of each: z is all-gathered and every replica draws the same B·R prior samples); under
    the decoupled prior those are g⁻¹(ε), ε ~ N(0, I), and the gradient reaches the flow through them.
    """

    term_names = ("kl", "mmd")
    needs_prior_samples = True
    global_batch_inputs = ("z",)  # MMD compares the whole batch of q(z) samples with the prior's

    def __init__(self, alpha: float = 0.0, lam: float = 100.0, kernel: str = "imq",
                 scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.lam, self.kernel, self.scale = alpha, lam, kernel, scale

    def regularize(self, inputs):
        kl = tf.reduce_mean(inputs["kl"])
        mmd = divergences.mmd(inputs["z"], inputs["prior_z"], self.kernel, self.scale)
        loss = (1.0 - self.alpha) * kl + (self.alpha + self.lam - 1.0) * mmd
        return loss, {"kl": kl, "mmd": mmd}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "lam": self.lam,
                "kernel": self.kernel, "scale": self.scale}


REGISTRY = {
    "none": lambda c, **kw: ELBO(**kw),
    "beta": lambda c, **kw: BetaVAEH(c.beta, **kw),
    "betab": lambda c, **kw: BetaVAEB(c.capacity_gamma, c.capacity_max, c.capacity_steps, **kw),
    "tc": lambda c, **kw: BetaTCVAE(c.tc_alpha, c.tc_beta, c.tc_gamma, max(c.dataset_size, 1),
                                    c.tc_estimator, **kw),
    "factor": lambda c, **kw: FactorVAE(c.factor_gamma, **kw),
    "info": lambda c, **kw: InfoVAE(c.info_alpha, c.info_lambda, c.mmd_kernel, c.mmd_scale, **kw),
}


def make_objective(config: ObjectiveConfig) -> Objective:
    """The loss layer for ``config.reg``, ramped in over ``config.reg_warmup_steps``."""
    try:
        build = REGISTRY[config.reg]
    except KeyError:
        raise ValueError(f"reg must be one of {', '.join(REGISTRY)}; got {config.reg!r}") from None
    return build(config, warmup_steps=config.reg_warmup_steps, name="objective")
