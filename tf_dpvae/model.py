"""The (dp)VAE as a ``keras.Model``: encode, decode, sample, and the training/evaluation steps.

Loss per example, averaged over the batch:   loss = R(x) + regularizer,   R = −log p(x|z), z ~ q(z|x),
where the regularizer comes from the objective layer (``regularizers``) and contains the KL term: in
closed form for the N(0, I) prior, eq. (5) for the decoupled prior.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tf_dpvae import divergences
from tf_dpvae.config import RunConfig
from tf_dpvae.post_hoc_config import PostHocConfig
from tf_dpvae.networks import Discriminator, make_encoder_decoder
from tf_dpvae.priors import make_prior
from tf_dpvae.regularizers import FactorVAE, make_objective


def reconstruction_nll(x, decoded, likelihood: str, obs_std: float):
    """−log p(x|z) per example, summed over all data dimensions. x, decoded: [B, ...] → [B].

    gaussian: decoded is the mean, −log N(x; x̂, σ_x²) = ½Σ[(x − x̂)²/σ_x² + log 2πσ_x²];
    bernoulli: decoded are logits, Σ sigmoid cross-entropy (x in [0, 1]).
    """
    axes = list(range(1, len(x.shape)))
    if likelihood == "gaussian":
        per_dim = 0.5 * (tf.square(x - decoded) / obs_std ** 2 + math.log(2 * math.pi * obs_std ** 2))
    elif likelihood == "bernoulli":
        per_dim = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=decoded)
    else:
        raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
    return tf.reduce_sum(per_dim, axis=axes)


class StepMonitor:
    """The last training step's own global gradient norms, for TensorBoard (``summaries``):
    ‖∇ loss‖₂ over the VAE's variables and ‖∇ disc_loss‖₂ over the discriminator's, before clipping
    and unscaled (float16's loss scale divided out). Under R replicas: the first replica's gradient
    of its share of the batch (the optimizers sum the replicas' shares).

    ``first_nonfinite``: the optimizer's step after the first training step whose loss was NaN or
    infinite (0: none yet), recorded inside the compiled step, so that a loop that runs many steps per
    call (``steps_per_execution``) still knows the exact step where training went wrong
    (``training_callbacks.NaNGuard``) without reading the loss after every step.

    A plain object on purpose: Keras and TensorFlow track no variable reached through it, so the
    checkpoints of a run are the same with or without it (runs resume across versions)."""

    def __init__(self):
        aggregation = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.vae = tf.Variable(0.0, trainable=False, aggregation=aggregation, name="vae_grad_norm")
        self.discriminator = tf.Variable(0.0, trainable=False, aggregation=aggregation,
                                         name="disc_grad_norm")
        self.first_nonfinite = tf.Variable(tf.constant(0, tf.int64), trainable=False,
                                           aggregation=aggregation, name="first_nonfinite_step")

    def record_nonfinite(self, loss, step):
        """Set ``first_nonfinite`` to ``step`` if ``loss`` is not finite and none was recorded."""
        step = tf.cast(step, tf.int64)
        first = self.first_nonfinite.read_value()
        bad = tf.logical_and(tf.equal(first, 0), tf.logical_not(tf.math.is_finite(loss)))
        self.first_nonfinite.assign(tf.where(bad, step, first))


def _gradient_norm(gradients, optimizer):
    norm = tf.linalg.global_norm([g for g in gradients if g is not None])
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        norm = norm / tf.cast(optimizer.dynamic_scale, norm.dtype)
    return norm


@keras.saving.register_keras_serializable(package="tf_dpvae")
class DPVAE(keras.Model):
    """A VAE with a pluggable prior (N(0, I) or decoupled) and objective (one of six regularizers).

    Data for ``fit``: batches x, or pairs (x, x') for FactorVAE, whose discriminator trains on the second
    batch x' with every latent dimension permuted across the batch (Kim & Mnih 2018, Algorithm 2).
    """

    def __init__(self, encoder, decoder, prior, objective, discriminator=None,
                 likelihood: str = "gaussian", obs_std: float = 0.1, seed: int = 0,
                 clip_norm: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if objective.needs_discriminator and discriminator is None:
            raise ValueError("the factor objective needs a discriminator network")
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.objective = objective
        self.discriminator = discriminator
        self.likelihood = likelihood
        self.obs_std = obs_std
        self.seed = seed
        self.clip_norm = clip_norm  # the VAE gradient's global norm bound (0 = none): see _clipped
        self.seed_generator = keras.random.SeedGenerator(seed, name="reparameterization_seed")
        # Evaluation draws its noise from a stream of its own: validating (or not) never changes
        # the noise the training steps see, so a resumed run repeats an uninterrupted one exactly.
        self.eval_seed_generator = keras.random.SeedGenerator(seed + 1, name="evaluation_seed")
        self.discriminator_optimizer = None
        names = ["loss", "recon", *objective.term_names, "nelbo"]
        if not prior.is_identity:
            names.append("log_det")
        if discriminator is not None:
            names += ["disc_loss", "disc_accuracy"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.step_monitor: StepMonitor | None = None   # monitor_steps(): gradient norms per step

    # ----------------------------------------------------------------------------------------- setup
    def compile(self, optimizer="adam", discriminator_optimizer=None, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        if self.discriminator is not None:
            self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(1e-4)

    def build(self, input_shape):
        """Create every weight (encoder, decoder, flow, discriminator) from the data's shape."""
        x = keras.ops.zeros((2,) + tuple(input_shape[1:]))
        mean, _ = self.encode(x)
        self.decoder(mean)
        self.prior.build(mean.shape)
        self.prior.log_prob(mean)
        if self.discriminator is not None:
            self.discriminator(mean)
        self.built = True

    def monitor_steps(self) -> StepMonitor:
        """Record every training step's gradient norms (``StepMonitor``) from now on; call it inside
        the strategy's scope, before the first step is traced."""
        if self.step_monitor is None:
            self.step_monitor = StepMonitor()
        return self.step_monitor

    def build_optimizers(self):
        """Create the optimizers' slots now, so that a checkpoint restores into existing variables."""
        self.optimizer.build(self.vae_variables)
        if self.discriminator_optimizer is not None:
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras (TensorFlow backend, under a strategy) peeks at a training batch to build the model
        symbolically; under MultiWorkerMirroredStrategy the peek fails (it all-reduces the batch) and
        it always consumes an iterator. This model is built by ``build`` and ``build_optimizers``
        before training, so skip it when nothing is left to build."""
        if self.built and (self.optimizer is None or self.optimizer.built):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def vae_variables(self):
        """Encoder, decoder and flow weights: what the main optimizer trains (never the discriminator)."""
        return (self.encoder.trainable_variables + self.decoder.trainable_variables
                + self.prior.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ------------------------------------------------------------------------------------ inference
    def encode(self, x):
        """q(z|x): x [B, ...] → (mean [B, d], log_var [B, d]), float32 under mixed precision too."""
        return tuple(tf.cast(t, tf.float32) for t in self.encoder(x))

    def decode(self, z):
        """p(x|z)'s parameter: the mean (Gaussian) or the logits (Bernoulli). z [B, d] → [B, ...]."""
        return tf.cast(self.decoder(z), tf.float32)

    def decode_mean(self, z):
        """E[x|z]: what a person looks at. z [B, d] → [B, ...]."""
        out = self.decode(z)
        return tf.sigmoid(out) if self.likelihood == "bernoulli" else out

    def call(self, x, training=False):
        """Reconstruction from the posterior mean: x → E[x | z = μ(x)]."""
        mean, _ = self.encode(x)
        return self.decode_mean(mean)

    def sample(self, num_samples, seed, temperature=1.0):
        """Stateless sampling: z0 = T·ε, ε ~ N(0, I); z = g⁻¹(z0); images = E[x|z].

        seed: int32 [2]. Returns dict of ``images`` [n, ...], ``z`` [n, d], ``z0`` [n, d].
        """
        z, z0 = self.prior.sample(num_samples, seed, temperature)
        return {"images": self.decode_mean(z), "z": z, "z0": z0}

    def reparameterize(self, mean, log_var, seed_generator=None):
        """z = μ + σ ⊙ ε with ε from a seeded, checkpointed generator (the training one by default).

        Under a strategy with R > 1 replicas every replica draws the noise of the whole global batch
        (the same draw: the generator's state is mirrored) and keeps its own slice, so replicas never
        share noise and, with the data split in replica order, ε equals the single-device draw.
        """
        seed = seed_generator or self.seed_generator
        replicas, replica = _replica()
        if replicas == 1:
            eps = keras.random.normal(tf.shape(mean), seed=seed)
        else:
            batch = tf.shape(mean)[0]
            eps = keras.random.normal(tf.concat([[batch * replicas], tf.shape(mean)[1:]], 0),
                                      seed=seed)[replica * batch:(replica + 1) * batch]
        return mean + tf.exp(0.5 * log_var) * eps

    def reset_evaluation_noise(self):
        """Restart the evaluation noise stream at its initial state ([seed + 1, 0]), so that every
        validation pass draws the same ε: epochs are then compared on common random numbers, and
        the best checkpoint is chosen by the weights, not by the luck of a draw."""
        self.eval_seed_generator.state.assign(
            tf.constant([self.seed + 1, 0], self.eval_seed_generator.state.dtype))

    @staticmethod
    def _random_seed(seed_generator):
        return keras.random.randint((2,), 0, 2 ** 31 - 1, seed=seed_generator, dtype="int32")

    # ----------------------------------------------------------------------------------------- loss
    def compute_terms(self, x, step=None, seed_generator=None):
        """Loss and its tracked terms for a batch x; also returns z for the discriminator step.

        Under a strategy with R > 1 replicas the objective's ``global_batch_inputs`` (β-TCVAE's
        z, mean, log_var, log p(z); InfoVAE's z) are all-gathered, so its batch statistics are those of
        the global batch, and InfoVAE draws the global batch's worth of prior samples (the same on every
        replica). Every replica then computes the same regularizer value L_reg; with each loss scaled by
        1/R, all_gather's gradient (the upstream gradients summed over the replicas, then this replica's
        slice) gives Σ_r (1/R)·∂L_reg/∂(its slice) = ∂L_reg/∂(its slice), and the optimizer's sum over
        the replicas is the single-device gradient. Reconstruction and the per-example KL stay per
        replica (per-example means; the 1/R scaling handles them).
        """
        seed_generator = seed_generator or self.seed_generator
        mean, log_var = self.encode(x)  # float32: under mixed precision the latent, the flow, the
        z = self.reparameterize(mean, log_var, seed_generator)  # KL and every loss stay float32
        z0, log_det = self.prior.forward(z)
        log_prior_z = divergences.standard_normal_log_density(z0) + log_det
        if self.prior.is_identity:
            kl = divergences.kl_to_standard_normal(mean, log_var)
        else:
            kl = divergences.kl_monte_carlo(log_var, log_prior_z)  # eq. (5)
        recon = tf.reduce_mean(reconstruction_nll(tf.cast(x, tf.float32), self.decode(z),
                                                  self.likelihood, self.obs_std))
        inputs = {"kl": kl, "z": z, "mean": mean, "log_var": log_var, "log_prior_z": log_prior_z,
                  "step": self.optimizer.iterations if step is None else step}
        replicas, _ = _replica()
        if replicas > 1 and self.objective.global_batch_inputs:
            # one all_gather per tensor: the gradient of a gathered nest stacks its tensors' gradients
            # (tf.identity of the list), which fails for tensors of different shapes ([B] and [B, d])
            inputs.update({name: _all_gather(inputs[name])
                           for name in self.objective.global_batch_inputs})
        if self.objective.needs_prior_samples:  # as many as the q(z) samples they are compared with:
            # the global batch's worth when z is gathered (the seed generator's state is mirrored,
            # so every replica draws the same samples, those of the single-device run)
            inputs["prior_z"], _ = self.prior.sample(tf.shape(inputs["z"])[0],
                                                     self._random_seed(seed_generator))
        if self.objective.needs_discriminator:
            inputs["disc_logits"] = tf.cast(self.discriminator(z), tf.float32)
        terms = dict(self.objective(inputs))
        loss = recon + tf.add_n(self.objective.losses)
        # The negative ELBO R + KL (eq. 1; eq. 5's KL under the decoupled prior), whatever the
        # objective: the model-selection criterion, which an objective's own weights cannot game.
        terms.update(loss=loss, recon=recon, nelbo=recon + tf.reduce_mean(kl))
        if not self.prior.is_identity:
            terms["log_det"] = tf.reduce_mean(log_det)
        return loss, terms, z

    def _discriminator_terms(self, z, x_other, seed_generator):
        """FactorVAE's discriminator loss on z (class 0) and permuted codes of x_other (class 1)."""
        mean, log_var = self.encode(x_other)
        z_other = tf.stop_gradient(self.reparameterize(mean, log_var, seed_generator))
        seed = self._random_seed(seed_generator)
        replicas, replica = _replica()
        if replicas == 1:
            z_permuted = divergences.permute_dims(z_other, seed)
        else:  # permute across the global batch, as on one device, then keep this replica's slice
            batch = tf.shape(z_other)[0]
            z_permuted = divergences.permute_dims(_all_gather(z_other), seed)[replica * batch:
                                                                              (replica + 1) * batch]
        loss, accuracy = FactorVAE.discriminator_loss(
            tf.cast(self.discriminator(tf.stop_gradient(z)), tf.float32),
            tf.cast(self.discriminator(z_permuted), tf.float32))
        return loss, accuracy

    @staticmethod
    def _split(data):
        if isinstance(data, (tuple, list)):
            return data[0], (data[1] if len(data) > 1 else data[0])
        return data, data

    def _update(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        replicas, _ = _replica()
        if replicas > 1:  # every replica reports the global running means (equal batch sizes), so
            # every worker's callbacks see the same logs (the NaN guard stops all of them or none)
            results = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.MEAN, results)
            if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
                # Keras reduces the step's outputs with strategy.reduce(MEAN, axis=0) under
                # multi-worker strategies, which needs a batch axis: give the scalars one.
                results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data):
        """One step. Under a strategy with R replicas each replica's losses (means over its batch/R
        examples) are scaled by 1/R: the optimizers sum gradients across replicas, so the update is
        the gradient of the global-batch mean, as on one device. float16 scales the loss as well
        (``keras.optimizers.LossScaleOptimizer``, which unscales and skips non-finite steps)."""
        x, x_other = self._split(data)
        replicas, _ = _replica()
        with tf.GradientTape() as tape:
            loss, terms, z = self.compute_terms(x)
            scaled = _scaled(loss, replicas, self.optimizer)
        variables = self.vae_variables
        gradients = tape.gradient(scaled, variables)
        if self.step_monitor is not None:
            self.step_monitor.vae.assign(_gradient_norm(gradients, self.optimizer))
        gradients = self._clipped(gradients, replicas)
        self.optimizer.apply_gradients(zip(gradients, variables))
        if self.discriminator is not None:
            disc_vars = self.discriminator.trainable_variables
            with tf.GradientTape() as tape:
                disc_loss, disc_accuracy = self._discriminator_terms(z, x_other,
                                                                     self.seed_generator)
                scaled = _scaled(disc_loss, replicas, self.discriminator_optimizer)
            disc_gradients = tape.gradient(scaled, disc_vars)
            if self.step_monitor is not None:
                self.step_monitor.discriminator.assign(
                    _gradient_norm(disc_gradients, self.discriminator_optimizer))
            self.discriminator_optimizer.apply_gradients(zip(disc_gradients, disc_vars))
            terms.update(disc_loss=disc_loss, disc_accuracy=disc_accuracy)
        if self.step_monitor is not None:   # after the update: the step as NaNGuard reports it
            self.step_monitor.record_nonfinite(loss, self.optimizer.iterations)
        return self._update(terms)

    def _clipped(self, gradients, replicas):
        """The VAE gradients with the global norm of the *global* gradient clipped to ``clip_norm``:
        g ← g · min(1, c / ‖g‖₂), ‖g‖₂ over every variable, as ``tf.clip_by_global_norm``.

        Not the optimizer's ``global_clipnorm``: Keras 3 clips in ``apply`` before the TensorFlow
        backend all-reduces the replicas' gradients (``base_optimizer._backend_apply_gradients`` then
        ``_all_reduce_sum_gradients``), so under R replicas each replica's share would be clipped on
        its own and the update would differ from the single-device one. Here the replicas' gradients
        are summed first (an all-reduce), clipped, and each replica passes 1/R of the result, which the
        optimizer's own sum turns back into the clipped global gradient. Under float16 the gradients
        carry the loss scale S: clipping at S·c is clipping the unscaled gradient at c (a non-finite
        gradient stays non-finite, and ``LossScaleOptimizer`` skips that step)."""
        if not self.clip_norm:
            return gradients
        bound = self.clip_norm
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            bound = bound * tf.cast(self.optimizer.dynamic_scale, tf.float32)
        if replicas > 1:
            gradients = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, gradients)
        clipped, _ = tf.clip_by_global_norm(gradients, bound)
        return [g / replicas for g in clipped] if replicas > 1 else clipped

    def test_step(self, data):
        x, x_other = self._split(data)
        _, terms, z = self.compute_terms(x, seed_generator=self.eval_seed_generator)
        if self.discriminator is not None:
            terms["disc_loss"], terms["disc_accuracy"] = self._discriminator_terms(
                z, x_other, self.eval_seed_generator)
        return self._update(terms)


def _replica():
    """(number of replicas in sync, this replica's id): (1, 0) outside a multi-replica strategy."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, 0
    return context.num_replicas_in_sync, tf.cast(context.replica_id_in_sync_group, tf.int32)


def _all_gather(tensor):
    """[B, ...] per replica → [B·R, ...]: the replicas' tensors concatenated along axis 0 in replica
    order, the order of the single-device batch. Differentiable: the gradient sums the replicas'
    upstream gradients and keeps this replica's slice. Call only with R > 1 replicas."""
    gathered = tf.distribute.get_replica_context().all_gather(tensor, axis=0)
    return tf.ensure_shape(gathered, [None, *tensor.shape[1:]])


def _scaled(loss, replicas, optimizer):
    """The loss to differentiate: / R across replicas, × the loss scale under float16."""
    if replicas > 1:
        loss = loss / replicas
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        loss = optimizer.scale_loss(loss)
    return loss


def make_checkpoint(model: DPVAE, with_optimizers: bool = True) -> tf.train.Checkpoint:
    """A ``tf.train.Checkpoint`` of every model variable, keyed by its Keras path.

    Keras 3 layers held in Python lists (the hidden layers, the coupling networks) are not children
    in TensorFlow's object graph, so ``tf.train.Checkpoint(model=model)`` silently saves none of their
    weights. Keying the variables explicitly by path saves all of them (the reparameterization RNG
    state included) and makes a restore into a differently built model fail loudly instead of
    silently. ``with_optimizers`` adds both optimizers (their slots and step, hence the β-B schedule);
    readers that only need the weights (export, evaluation) leave it off.
    """
    weights = {v.path: v for v in model.variables}
    if len(weights) != len(model.variables):
        raise ValueError("model variables have duplicate paths; name the layers uniquely")
    parts = {"weights": weights}
    if with_optimizers:
        parts["optimizer"] = model.optimizer
        if model.discriminator_optimizer is not None:
            parts["discriminator_optimizer"] = model.discriminator_optimizer
    return tf.train.Checkpoint(**parts)


def restore_weights(model: DPVAE, checkpoint_path: str) -> None:
    """Load a training checkpoint's weights into ``model`` (built by ``build_model`` from the run's
    configuration); raises if any model variable is missing from the checkpoint."""
    from tf_dpvae.checkpoints import tf_path   # a non-UTF-8 locale's path (issue 26)

    status = make_checkpoint(model, with_optimizers=False).read(tf_path(checkpoint_path))
    status.expect_partial()  # the optimizers' slots are in the file but not wanted here
    status.assert_existing_objects_matched()


def learning_rate_schedule(train, total_steps: int | None):
    """The VAE optimizer's learning rate as a function of the step t (``TrainConfig`` fields):

        warm-up   η(t) = lr·t / W                                                  for t < W
        cosine    η(t) = lr·[f + (1 − f)·½(1 + cos(π·min(t − W, T − W)/(T − W)))]   for t ≥ W

    with W = warmup_steps, T = total_steps (the run's planned length, epochs × steps per epoch;
    ``--steps`` only stops a run early), f = lr_final_fraction. A
    ``constant`` schedule, or ``total_steps`` None (a model loaded only to be evaluated or exported),
    gives the float lr. The step is the optimizer's, which checkpoints restore, so a resumed run
    continues the schedule; a resumption that changes ``--epochs`` changes T.
    """
    if train.lr_schedule == "constant" or total_steps is None:
        return train.lr
    warmup = min(train.warmup_steps, max(total_steps - 1, 0))
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(
            train.lr, decay_steps=max(total_steps, 1), alpha=train.lr_final_fraction)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(total_steps - warmup, 1), alpha=train.lr_final_fraction,
        warmup_target=train.lr, warmup_steps=warmup)


def build_model(config: RunConfig, input_shape, total_steps: int | None = None,
                post_hoc: PostHocConfig | None = None) -> DPVAE:
    """The model a configuration describes, built for data of ``input_shape`` ([None, D] vectors or
    [None, H, W, C] images; ``config.model.arch`` chooses the networks, see
    ``networks.choose_arch``). A shape no network fits raises ``ConfigError``. ``total_steps`` (the
    run's planned length) sets the learning-rate schedule (``learning_rate_schedule``).

    ``post_hoc`` (a retrofitted run's record, ``runs.read_post_hoc``) replaces the prior the run was
    trained with by the one fitted after training: the decoupled prior with ``config.prior``'s flow
    settings (sampler flow) or a Gaussian mixture of ``post_hoc.components`` components (gmm)."""
    m = config.model
    previous_policy = keras.config.dtype_policy()
    mixed = config.train.mixed_precision
    compute = {"off": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[mixed]
    try:
        # Mixed precision: encoder, decoder and discriminator compute in bfloat16/float16 with float32
        # variables; the prior's flow and the objective's layer are made under float32 (with the
        # latent, the KL and every loss term, see ``compute_terms``).
        keras.config.set_dtype_policy(compute)
        # an architecture that does not fit the data raises networks.ArchitectureError (a UserError)
        encoder, decoder = make_encoder_decoder(
            m.arch, tuple(input_shape)[1:], m.latent_dim, m.hidden_units, m.hidden_layers,
            m.conv_filters, m.conv_units)
        o = config.objective
        discriminator = (Discriminator(o.disc_units, o.disc_layers, name="discriminator")
                         if o.reg == "factor" else None)
        keras.config.set_dtype_policy("float32")
        objective = make_objective(o)
        if objective.needs_discriminator != (discriminator is not None):
            raise ValueError(f"objective {o.reg!r}: discriminator expected "
                             f"{objective.needs_discriminator}")
        p = config.prior
        kind = p.kind if post_hoc is None else {"flow": "dp", "gmm": "gmm"}[post_hoc.sampler]
        prior = make_prior(kind, m.latent_dim, num_blocks=p.num_blocks,
                           hidden_units=p.hidden_units, hidden_layers=p.hidden_layers,
                           scale_bound=p.scale_bound, shift_bound=p.shift_bound,
                           coupling=p.coupling, spline_bins=p.spline_bins,
                           spline_bound=p.spline_bound, permutation=p.permutation,
                           permutation_seed=config.train.seed,
                           num_components=post_hoc.components if post_hoc else 1)
        model = DPVAE(encoder, decoder, prior, objective, discriminator, likelihood=m.likelihood,
                      obs_std=m.obs_std, seed=config.train.seed, clip_norm=config.train.clip_norm,
                      name="dpvae")
        model.build(tuple(input_shape))
    finally:
        keras.config.set_dtype_policy(previous_policy)
    t = config.train
    optimizer = keras.optimizers.Adam(learning_rate_schedule(t, total_steps))  # clipping: _clipped
    disc_optimizer = keras.optimizers.Adam(o.disc_lr, beta_1=o.disc_beta_1, beta_2=o.disc_beta_2)
    if mixed == "float16":  # float16 gradients underflow without loss scaling; bfloat16's do not
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        disc_optimizer = keras.optimizers.LossScaleOptimizer(disc_optimizer)
    model.compile(optimizer=optimizer, discriminator_optimizer=disc_optimizer,
                  jit_compile=True if config.train.jit else "auto")
    return model
