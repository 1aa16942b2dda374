"""TensorBoard summaries of a training run: every one at the optimizer's step, one step axis.

Under ``<run>/logs`` (``tensorboard --logdir <run>/logs``, or a folder of runs):

    logs/            the HParams session of the run (``write_hparams``: the settings that matter for
                     its objective and prior, with the run's metrics declared), the run's description
                     as text (``RunText``: configuration, command, version, best checkpoint), and
                     ``best/*``: the validation −ELBO of the best epoch, rewritten at each new best,
                     and its figure, drawn from the best checkpoint once training ends
    logs/train       every tracked term, averaged over the steps since the previous point (at most
                     ``train.log_every`` steps, never across an epoch's start), every ``log_every``
                     steps; the learning rate; the last step's global gradient norms of the VAE and
                     of the discriminator (``model.StepMonitor``)
    logs/validation  every tracked term on the validation split, at the step where each epoch ends
    logs/latents     histograms of z and z0 = g(z) of a fixed validation batch; 2-D data: the
                     paper's figure every ``FIGURE_EVERY`` epochs with fixed axes
    logs/images      image data: reconstructions, prior samples and unmapped samples, labelled

The train and validation runs share tag names, so each term is one chart with two curves on the
optimizer's step. TensorBoard keeps 10 images per tag by default; ``tensorboard --logdir LOGS
--samples_per_plugin images=100`` keeps more.
"""

from __future__ import annotations

import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tf_dpvae import plots
from tf_dpvae.config import RunConfig

FIGURE_EVERY = 5   # epochs between two 2-D figures in TensorBoard (and the last, and the best)


def _step(model) -> int:
    return int(model.optimizer.iterations.numpy())


class StepCounter(keras.callbacks.Callback):
    """Knows the optimizer's step after every call of the training function without asking the
    device: read once at the start, then the epoch's first step plus Keras's batch index, which is
    the last step of the call when a call runs several (``steps_per_execution``)."""

    def __init__(self):
        super().__init__()
        self.step = self.epoch_start = 0

    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.epoch_start + batch + 1


class StepScalars(StepCounter):
    """Training scalars every ``every`` steps and at each epoch's end, at the optimizer's step: each
    tracked term's mean over the steps since the previous point or the epoch's start (at most
    ``every`` steps), read from the trackers' running sums
    (no extra work in the step, one read every ``every`` steps); the learning rate; the last step's
    gradient norms. The step is counted (``StepCounter``), so no batch waits for the device to tell
    it. A point is written at the end of the call of the training function that reaches it, exact
    when the calls end on multiples of ``every`` (``training.steps_per_execution``)."""

    def __init__(self, log_dir: str, every: int):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.every = every
        self.pending = False   # steps since the previous point
        self.previous: dict[str, tuple[float, float]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.previous = {}   # the trackers start over with the epoch
        self.pending = False

    def on_train_batch_end(self, batch, logs=None):
        before = self.step
        super().on_train_batch_end(batch, logs)
        self.pending = True
        if self.step // self.every > before // self.every:
            self.write()

    def on_test_begin(self, logs=None):
        # validation shares the trackers and resets them: the epoch's last steps are written first
        if self.pending:
            self.write()

    def on_epoch_end(self, epoch, logs=None):
        if self.pending:   # an epoch without validation
            self.write()
        self.writer.flush()

    def write(self):
        self.pending = False
        model = self.model
        with self.writer.as_default(step=self.step):
            for name, tracker in model.trackers.items():
                total, count = float(tracker.total.numpy()), float(tracker.count.numpy())
                last_total, last_count = self.previous.get(name, (0.0, 0.0))
                if count > last_count:
                    tf.summary.scalar(name, (total - last_total) / (count - last_count))
                self.previous[name] = (total, count)
            tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(
                model.optimizer.learning_rate)))
            monitor = model.step_monitor
            if monitor is not None:
                tf.summary.scalar("grad_norm/vae", float(monitor.vae.numpy()))
                if model.discriminator is not None:
                    tf.summary.scalar("grad_norm/discriminator", float(monitor.discriminator.numpy()))


class ValidationScalars(keras.callbacks.Callback):
    """Every tracked term on the validation split (Keras's ``val_*`` logs), at the step where the
    epoch ends, under the same tag names as the training scalars."""

    def __init__(self, log_dir: str):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        values = {k[len("val_"):]: float(v) for k, v in (logs or {}).items() if k.startswith("val_")}
        if not values:
            return
        with self.writer.as_default(step=_step(self.model)):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        self.writer.flush()


class BestEpochSummaries(keras.callbacks.Callback):
    """``best/val_nelbo`` and ``best/step`` each time a new best checkpoint is saved (``best``, a
    ``training.BestCheckpoint`` that runs before this callback), and at the end of training
    ``draw()``'s image of the best checkpoint's weights (``best.restore_into``) as ``best/figure`` at
    its step: the marker and the picture of the epoch export and evaluation read. The figure is drawn
    once, not at every improvement (early epochs improve nearly every time, and a 2-D figure costs a
    second or two)."""

    def __init__(self, log_dir: str, best, draw=None):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.best = best
        self.draw = draw
        self.seen = float("inf")
        self.figure_step = None   # the best step whose figure is still to be drawn

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.best.value.numpy())
        if not value < self.seen:
            return
        self.seen = value
        step = _step(self.model)
        with self.writer.as_default(step=step):
            tf.summary.scalar("best/val_nelbo", value)
            tf.summary.scalar("best/step", step)
        self.writer.flush()
        self.figure_step = step

    def on_train_end(self, logs=None):
        if self.draw is None or self.figure_step is None or not self.best.restore_into(self.model):
            return
        with self.writer.as_default(step=self.figure_step):
            tf.summary.image("best/figure", self.draw(self.model)[None])
        self.writer.flush()
        self.figure_step = None


def version_line() -> str:
    """The package version and the source's git commit (``table1.git_commit``'s rule)."""
    from importlib import metadata

    try:
        version = metadata.version("tf_dpvae")
    except metadata.PackageNotFoundError:
        version = "not installed"
    from tf_dpvae.provenance import git_commit

    return f"tf_dpvae {version}, commit {git_commit()}"


class RunText(keras.callbacks.Callback):
    """The run described as text: ``run/configuration`` (config.json), ``run/command`` (the command
    line), ``run/version`` at the start; ``run/best`` (best.json) at the end."""

    def __init__(self, log_dir: str, config: RunConfig, best_record: str):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.config = config
        self.best_record = best_record

    def on_train_begin(self, logs=None):
        with self.writer.as_default(step=_step(self.model)):
            tf.summary.text("run/configuration", _code(self.config.to_json()))
            tf.summary.text("run/command", _code(" ".join([os.path.basename(sys.executable),
                                                            *sys.argv])))
            tf.summary.text("run/version", version_line())
        self.writer.flush()

    def on_train_end(self, logs=None):
        if os.path.isfile(self.best_record):
            with open(self.best_record, encoding="utf-8") as f:
                record = f.read()
            with self.writer.as_default(step=_step(self.model)):
                tf.summary.text("run/best", _code(record))
            self.writer.flush()


def _code(text: str) -> str:
    """Markdown code block (TensorBoard renders text summaries as Markdown)."""
    return "```\n" + text + "\n```"


# ------------------------------------------------------------------------------------- HParams
# The metrics a run's session is compared by: (tag, the run under logs/ that holds it).
HPARAM_METRICS = (("nelbo", "validation"), ("loss", "validation"), ("best/val_nelbo", None),
                  ("best/step", None),
                  # evaluate's, once the run is evaluated (logs/eval; images or vector data)
                  *((f"{group}/{key}", "eval") for group, key in (
                      ("frechet_distance_classifier", "random"), ("frechet_distance_data", "random"),
                      ("sample_quality_classifier", "precision"), ("sample_quality_data", "precision"),
                      ("sample_quality_random_conv", "precision"), ("symmetric_kl", "skl"),
                      ("nll", "importance_sampled"))))


def relevant_hparams(config: RunConfig) -> dict:
    """The settings that tell runs apart in the HParams dashboard: the run's identity (reg, prior,
    seed, data set, latent size), training's length and rate, the weights of its own objective (the
    fields whose flag group names the regularizer) and, for the decoupled prior, the flow's."""
    import dataclasses

    c = config
    values = {"reg": c.objective.reg, "prior": c.prior.kind, "seed": c.train.seed,
              "dataset": c.data.dataset, "latent_dim": c.model.latent_dim, "arch": c.model.arch,
              "likelihood": c.model.likelihood, "lr": c.train.lr, "batch_size": c.train.batch_size,
              "epochs": c.train.epochs, "steps": c.train.steps, "clip_norm": c.train.clip_norm,
              "reg_warmup_steps": c.objective.reg_warmup_steps}
    for f in dataclasses.fields(c.objective):
        if str(f.metadata.get("group") or "").startswith(f"{c.objective.reg}:"):
            values[f"objective.{f.name}"] = getattr(c.objective, f.name)
    if c.prior.kind == "dp":
        values.update({f"prior.{f.name}": getattr(c.prior, f.name) for f in dataclasses.fields(c.prior)
                       if f.name != "kind"})
    return {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}


def write_hparams(log_dir: str, config: RunConfig, experiment: bool = True) -> None:
    """The run's HParams session in ``log_dir`` (one per run: its trial id is the run folder's name),
    with ``relevant_hparams`` and the metrics it is compared by: the validation −ELBO and loss
    (``logs/validation``), the best epoch's (``logs``) and evaluate's (``logs/eval``). ``experiment``:
    also the experiment (the hparams and metrics to show), which TensorBoard takes from one place:
    off when the caller declares it for a folder of runs (Table 1)."""
    from tensorboard.plugins.hparams import api as hp

    values = relevant_hparams(config)
    with tf.summary.create_file_writer(log_dir).as_default():
        if experiment:
            hp.hparams_config(hparams=[hp.HParam(k) for k in values],
                              metrics=[hp.Metric(tag, group=group) for tag, group in HPARAM_METRICS])
        hp.hparams(values, trial_id=os.path.basename(os.path.normpath(
            os.path.dirname(os.path.abspath(log_dir)))))


# ------------------------------------------------------------------------------------ latents
class LatentSummaries(keras.callbacks.Callback):
    """Histograms of z and z0 = g(z) for a fixed validation batch, every epoch.

    The reparameterization noise is a fixed stateless draw, so the summaries neither consume the
    training RNG (a run's results do not depend on which callbacks ran) nor change between epochs
    for any reason but the model's weights.
    """

    def __init__(self, log_dir: str, batch):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.batch = batch
        self._codes = None   # the model's z and z0 of the batch, compiled once (eager TFP is slow)

    def codes(self, model):
        mean, log_var = model.encode(self.batch)
        eps = tf.random.stateless_normal(tf.shape(mean), seed=[model.seed, 7])
        z = mean + tf.exp(0.5 * log_var) * eps
        return z, model.prior.forward(z)[0]

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        if self._codes is None:
            self._codes = tf.function(lambda: self.codes(model))
        z, z0 = (t.numpy() for t in self._codes())
        with self.writer.as_default(step=_step(model)):
            for k in range(z.shape[-1]):
                tf.summary.histogram(f"z/dim_{k}", z[:, k])
                tf.summary.histogram(f"z0/dim_{k}", z0[:, k])
        self.writer.flush()


class ImageSummaries(keras.callbacks.Callback):
    """TensorBoard images every epoch (image data only), all with fixed inputs so that epochs compare:

    images/reconstructions   a fixed validation batch, each row of originals above its
                             reconstructions E[x | z = μ(x)]
    images/samples           E[x | z] for z = g⁻¹(ε), ε ~ N(0, I) a fixed stateless draw (z = ε for
                             the normal prior)
    images/samples_vs_unmapped   decoupled prior only: left the samples above, right E[x | z = ε],
                             the same ε decoded straight in the representation space, i.e. what
                             sampling would give if the learned prior were ignored
    """

    def __init__(self, log_dir: str, batch: np.ndarray, seed: int, num_samples: int = 64,
                 columns: int = 8):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.columns = columns
        self.batch_columns = max(1, min(columns, len(batch)))  # a small batch: one shorter row
        self.batch = batch[: (len(batch) // self.batch_columns) * self.batch_columns]
        self.num_samples = num_samples
        self.seed = tf.constant([seed, 11], tf.int32)  # its own stream: never the training RNG

    def samples_grid(self, model) -> np.ndarray:
        """The prior samples' grid [H, W, C] (fixed ε): what ``best/figure`` shows for images."""
        return plots.image_grid(model.sample(self.num_samples, self.seed)["images"].numpy(),
                                self.columns)

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        c = self.batch_columns
        recon = model(self.batch).numpy()
        rows = []
        for start in range(0, len(self.batch), c):
            rows += [self.batch[start:start + c], recon[start:start + c]]
        drawn = model.sample(self.num_samples, self.seed)
        samples = plots.image_grid(drawn["images"].numpy(), self.columns)
        with self.writer.as_default(step=_step(model)):
            tf.summary.image("images/reconstructions", plots.image_grid(np.concatenate(rows), c)[None],
                             description="odd rows: validation images; even rows: their "
                                         "reconstructions E[x | z = μ(x)]")
            tf.summary.image("images/samples", samples[None],
                             description="E[x | z], z = g⁻¹(ε), ε ~ N(0, I) (a fixed draw)")
            if not model.prior.is_identity:
                unmapped = plots.image_grid(model.decode_mean(drawn["z0"]).numpy(), self.columns)
                tf.summary.image("images/samples_vs_unmapped",
                                 plots.side_by_side(samples, unmapped)[None],
                                 description="left: samples through the decoupled prior, "
                                             "E[x | z = g⁻¹(ε)]; right: the same ε decoded as z, "
                                             "E[x | z = ε] (the prior ignored)")
        self.writer.flush()


class FigureSummaries(keras.callbacks.Callback):
    """2-D data: the paper-style figure (``moons_figure_png``) in TensorBoard every ``every`` epochs
    and at the last, with fixed axes and colour scales (``plots.FIXED_SCALES``) and fixed seeds, so
    that the slider compares like with like while pockets form and fill. A lighter figure than the
    final ``figure.png`` (1,000 samples, q(z) of 1,000 encodings)."""

    def __init__(self, log_dir: str, train: np.ndarray, seed: int, guard, every: int = FIGURE_EVERY):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.train = train
        self.seed = seed
        self.guard = guard
        self.every = every

    def draw(self, model) -> np.ndarray:
        png = moons_figure_png(model, self.train, self.seed, num_samples=1000, num_points=1000,
                               scales=plots.FIXED_SCALES)
        return tf.image.decode_png(png, channels=4).numpy()

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.params.get("epochs") or self.model.stop_training
        if self.guard.bad_step is not None or ((epoch + 1) % self.every and not last):
            return   # non-finite weights: nothing to draw
        with self.writer.as_default(step=_step(self.model)):
            tf.summary.image("figure", self.draw(self.model)[None],
                             description="(a) samples in data space coloured by log p(z); (b) log "
                                         "q(z) with the prior samples' codes z = g⁻¹(ε); (c) the "
                                         "codes and ε in the generation space. Fixed axes.")
        self.writer.flush()


def moons_figure_png(model, train: np.ndarray, seed: int, num_samples: int = 2000,
                     num_points: int = 3000, scales=None) -> bytes:
    """The paper-style picture for 2-D data (see ``plots.moons_figure``): ``num_samples`` samples over
    the first ``num_points`` training points, whose encodings make the q(z) map, with the samples'
    codes z and ε drawn in the representation and generation spaces."""
    drawn = model.sample(num_samples, tf.constant([seed, 1], tf.int32))
    log_prob = model.prior.log_prob(drawn["z"]).numpy()
    subset = train[: min(len(train), num_points)]
    mean, log_var = (t.numpy() for t in model.encode(subset))
    identity = model.prior.is_identity
    z0 = None if identity else model.prior.forward(mean)[0].numpy()
    shown = slice(0, min(num_samples, 500))   # enough to see where they fall, not a carpet
    fig = plots.moons_figure(subset, drawn["images"].numpy(), log_prob, mean, log_var, z0,
                             prior_z=drawn["z"].numpy()[shown],
                             prior_z0=None if identity else drawn["z0"].numpy()[shown], scales=scales)
    return plots.figure_to_png(fig)
