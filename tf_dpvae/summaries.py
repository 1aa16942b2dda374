"""TensorBoard summaries of a training run: every one at the optimizer's step, one step axis.

Under ``<run>/logs`` (``tensorboard --logdir <run>/logs``, or a folder of runs):

    logs/run         the run as a whole (``RUN_DIR``; nothing is written at logs/ itself, which
                     TensorBoard would list as a run named "."): the HParams session of the run
                     (``write_hparams``: the settings that matter for its objective and prior, with the
                     run's metrics declared), the run's description as text (``RunText``:
                     configuration, command, version, best checkpoint), ``best/*``: the validation
                     −ELBO of the best epoch, rewritten at each new best, and its figure, drawn from
                     the best checkpoint once training ends, and for latent sizes above 2
                     the projector of the best epoch's codes (``LatentProjector``)
    logs/run/eval    ``evaluate``'s metrics, tables and figures (``evaluation.publish.write_results``):
                     under the session's run, so that the HParams dashboard finds them (a session's
                     metric of group G is read from the run <session>/G)
    logs/train       every tracked term, averaged over the steps since the previous point (at most
                     ``train.log_every`` steps, never across an epoch's start), every ``log_every``
                     steps; the learning rate; the last step's global gradient norms of the VAE and
                     of the discriminator (``model.StepMonitor``); the compiled train step's graph,
                     traced once (``TrainGraph``)
    logs/validation  every tracked term on the validation split, at the step where each epoch ends
    logs/latents     histograms of z and z0 = g(z) of a fixed validation batch; 2-D data: the
                     paper's figure every ``FIGURE_EVERY`` epochs with fixed axes
                     (``summary_images.FigureSummaries``)
    logs/images      image data: reconstructions, prior samples and unmapped samples, labelled
                     (``summary_images.ImageSummaries``)

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

from tf_dpvae.config import RunConfig

RUN_DIR = "run"    # logs/run: the run's HParams session, text, best epoch and projector
EVAL_DIR = os.path.join(RUN_DIR, "eval")   # logs/run/eval: evaluate's summaries
PROJECTOR_POINTS = 500   # validation examples in the projector (the latent histograms' batch)


def run_dir(log_dir: str) -> str:
    """``<log_dir>/run``, where everything about the run as a whole is written."""
    return os.path.join(log_dir, RUN_DIR)


def optimizer_step(model) -> int:
    """The step every summary is written at: the VAE optimizer's, read from the device."""
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
        with self.writer.as_default(step=optimizer_step(self.model)):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        self.writer.flush()


class BestEpochSummaries(keras.callbacks.Callback):
    """``best/val_nelbo`` and ``best/step`` each time a new best checkpoint is saved (``best``, a
    ``training_callbacks.BestCheckpoint`` that runs before this callback), and at the end of
    training ``draw()``'s image of the best checkpoint's weights (``best.restore_into``) as
    ``best/figure`` at its step: the marker and the picture of the epoch export and evaluation read.
    The figure is drawn once, not at every improvement (early epochs improve nearly every time, and
    a 2-D figure costs a second or two). Written to ``<log_dir>/run``."""

    def __init__(self, log_dir: str, best, draw=None):
        super().__init__()
        self.writer = tf.summary.create_file_writer(run_dir(log_dir))
        self.best = best
        self.draw = draw
        self.seen = float("inf")
        self.figure_step = None   # the best step whose figure is still to be drawn

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.best.value.numpy())
        if not value < self.seen:
            return
        self.seen = value
        step = optimizer_step(self.model)
        with self.writer.as_default(step=step):
            tf.summary.scalar("best/val_nelbo", value)
            tf.summary.scalar("best/step", step)
        self.writer.flush()
        self.figure_step, self.figure_value = step, value

    def on_train_end(self, logs=None):
        if self.draw is None or self.figure_step is None or not self.best.restore_into(self.model):
            return
        with self.writer.as_default(step=self.figure_step):
            tf.summary.image("best/figure", self.draw(self.model)[None],
                             description=f"the best epoch (validation −ELBO "
                                         f"{self.figure_value:.4g} at step {self.figure_step}): the "
                                         f"checkpoint export and evaluate read")
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
    """The run described as text in ``<log_dir>/run``: ``run/configuration`` (config.json),
    ``run/command`` (the command line), ``run/version`` at the start; ``run/best`` (best.json) at
    the end."""

    def __init__(self, log_dir: str, config: RunConfig, best_record: str):
        super().__init__()
        self.writer = tf.summary.create_file_writer(run_dir(log_dir))
        self.config = config
        self.best_record = best_record

    def on_train_begin(self, logs=None):
        with self.writer.as_default(step=optimizer_step(self.model)):
            tf.summary.text("run/configuration", _code(self.config.to_json()))
            tf.summary.text("run/command", _code(" ".join([os.path.basename(sys.executable),
                                                            *sys.argv])))
            tf.summary.text("run/version", version_line())
        self.writer.flush()

    def on_train_end(self, logs=None):
        if os.path.isfile(self.best_record):
            with open(self.best_record, encoding="utf-8") as f:
                record = f.read()
            with self.writer.as_default(step=optimizer_step(self.model)):
                tf.summary.text("run/best", _code(record))
            self.writer.flush()


def _code(text: str) -> str:
    """Markdown code block (TensorBoard renders text summaries as Markdown)."""
    return "```\n" + text + "\n```"


# ------------------------------------------------------------------------------------- HParams
# The metrics a run's session is compared by: (tag, group). TensorBoard reads a session's metric of
# group G from the run <session run>/G (no ".." resolved), so every one lives in logs/run or below:
# the best epoch's validation −ELBO and step (logs/run) and evaluate's (logs/run/eval).
HPARAM_METRICS = (("best/val_nelbo", None), ("best/step", None),
                  # evaluate's, once the run is evaluated (images or vector data)
                  *((f"{group}/{key}", "eval") for group, key in (
                      ("frechet_distance_classifier", "random"),
                      ("frechet_distance_classifier", "low_posterior"),
                      ("frechet_distance_data", "random"), ("frechet_distance_data", "low_posterior"),
                      *((f"sample_quality_{embedding}", metric)
                        for embedding in ("classifier", "data")
                        for metric in ("precision", "recall", "density", "coverage")),
                      ("symmetric_kl", "skl"), ("nll", "importance_sampled"))))


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
    """The run's HParams session in ``<log_dir>/run`` (one per run: its trial id is the run folder's
    name, the parent of ``log_dir``), with ``relevant_hparams`` and the metrics it is compared by
    (``HPARAM_METRICS``: the best epoch's and evaluate's). ``experiment``: also the experiment (the
    hparams and metrics to show), which TensorBoard takes from one place: off when the caller
    declares it for a folder of runs (Table 1)."""
    from tensorboard.plugins.hparams import api as hp

    values = relevant_hparams(config)
    with tf.summary.create_file_writer(run_dir(log_dir)).as_default():
        if experiment:
            hp.hparams_config(hparams=[hp.HParam(k) for k in values],
                              metrics=[hp.Metric(tag, group=group) for tag, group in HPARAM_METRICS])
        hp.hparams(values, trial_id=os.path.basename(os.path.dirname(os.path.abspath(log_dir))))


# ---------------------------------------------------------------------------------- the graph
class TrainGraph(keras.callbacks.Callback):
    """The compiled train function's graph in the Graphs dashboard, once per ``fit``: graph collection
    is on for the function's first call only (``tf.summary.trace_on(graph=True)``; one call runs
    ``steps_per_execution`` steps, so the graph is written at the step that call ends), so later calls
    run as before."""

    def __init__(self, log_dir: str):
        super().__init__()
        self.log_dir = log_dir
        self.tracing = False

    def on_train_begin(self, logs=None):
        tf.summary.trace_on(graph=True, profiler=False)
        self.tracing = True

    def on_train_batch_end(self, batch, logs=None):
        if self.tracing:
            self.tracing = False
            writer = tf.summary.create_file_writer(self.log_dir)
            with writer.as_default():
                # turns tracing off
                tf.summary.trace_export("train_step", step=optimizer_step(self.model))
            writer.close()

    def on_train_end(self, logs=None):
        if self.tracing:   # not one step taken
            tf.summary.trace_off()
            self.tracing = False


# -------------------------------------------------------------------------------- projector
def projector_embeddings(model, x) -> dict[str, np.ndarray]:
    """The codes the projector shows for examples x [n, ...]: ``z = μ(x)``, the means of q(z|x) in
    the representation space, and for the decoupled prior ``z0 = g(μ(x))`` in the generation space
    (where the prior is N(0, I)). name → float32 [n, d]."""
    mean, _ = model.encode(x)
    out = {"z = μ(x)": np.asarray(mean, np.float32)}
    if not model.prior.is_identity:
        out["z0 = g(μ(x))"] = np.asarray(model.prior.forward(mean)[0], np.float32)
    return out


def sprite_image(images: np.ndarray) -> np.ndarray:
    """The projector's sprite: images [n, H, W, C] in [0, 1] tiled row-major on a ⌈√n⌉ × ⌈√n⌉ grid
    without gaps (TensorBoard cuts it by ``single_image_dim``) → uint8 [⌈√n⌉·H, ⌈√n⌉·W, C]."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    side = int(np.ceil(np.sqrt(n)))
    sheet = np.ones((side * h, side * w, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, side)
        sheet[r * h:(r + 1) * h, k * w:(k + 1) * w] = image
    return np.round(sheet * 255).astype(np.uint8)


def write_projector(directory: str, embeddings: dict, labels=None, class_names=None,
                    images=None) -> str:
    """TensorBoard's projector in ``directory`` (a run that has event files, e.g. logs/run): each
    embedding (name → [n, d]) as a TSV tensor file, ``metadata.tsv`` (the example's index and, when
    known, its label: ``class_names[label]`` or the integer), ``sprite.png`` for image data, and
    ``projector_config.pbtxt`` naming them; every file written atomically. Returns the config's path.
    """
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    from tf_dpvae.files import write_atomic

    os.makedirs(directory, exist_ok=True)
    n = len(next(iter(embeddings.values())))
    if labels is not None:
        names = [class_names[int(k)] if class_names is not None and 0 <= int(k) < len(class_names)
                 else str(int(k)) for k in labels[:n]]
        metadata = "index\tlabel\n" + "".join(f"{i}\t{name}\n" for i, name in enumerate(names))
    else:   # one column: no header line (TensorBoard's rule)
        metadata = "".join(f"{i}\n" for i in range(n))
    write_atomic(os.path.join(directory, "metadata.tsv"), metadata)
    config = projector.ProjectorConfig()
    sprite = None
    if images is not None and np.ndim(images) == 4:
        sprite = sprite_image(images[:n])
        write_atomic(os.path.join(directory, "sprite.png"),
                     tf.io.encode_png(tf.constant(sprite)).numpy())
    for k, (name, values) in enumerate(embeddings.items()):
        values = np.asarray(values, np.float32)
        file = f"embedding_{k}.tsv"
        write_atomic(os.path.join(directory, file),
                     "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in values))
        embedding = config.embeddings.add()
        embedding.tensor_name = name
        embedding.tensor_path = file
        embedding.tensor_shape.extend(values.shape)
        embedding.metadata_path = "metadata.tsv"
        if sprite is not None:
            embedding.sprite.image_path = "sprite.png"
            embedding.sprite.single_image_dim.extend([int(images.shape[2]), int(images.shape[1])])
    path = os.path.join(directory, projector.metadata.PROJECTOR_FILENAME)
    write_atomic(path, text_format.MessageToString(config))
    return path


class LatentProjector(keras.callbacks.Callback):
    """Latent sizes above 2: TensorBoard's projector (``write_projector``) of the codes of a fixed
    validation batch (the first ``PROJECTOR_POINTS`` examples; ``projector_embeddings``) at the best
    epoch, with the class labels and, for images, the images as sprites. The codes are taken at each
    new best checkpoint (one encoder pass over the batch; ``best``, a
    ``training_callbacks.BestCheckpoint`` that runs before this callback) and written once, in
    ``<log_dir>/run``, when training ends."""

    def __init__(self, log_dir: str, best, splits, points: int = PROJECTOR_POINTS):
        super().__init__()
        self.directory = run_dir(log_dir)
        self.best = best
        self.batch = splits.head("validation", points)
        labels = splits.validation_labels
        self.labels = None if labels is None else np.asarray(labels)[:len(self.batch)]
        self.class_names = splits.class_names
        self.seen = float("inf")
        self.codes = None

    def active(self) -> bool:
        return self.model.prior.latent_dim > 2

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.best.value.numpy())
        if value < self.seen and self.active():
            self.seen = value
            self.codes = projector_embeddings(self.model, self.batch)

    def on_train_end(self, logs=None):
        if self.codes is not None:
            write_projector(self.directory, self.codes, self.labels, self.class_names,
                            self.batch if self.batch.ndim == 4 else None)


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
        with self.writer.as_default(step=optimizer_step(model)):
            for k in range(z.shape[-1]):
                tf.summary.histogram(f"z/dim_{k}", z[:, k])
                tf.summary.histogram(f"z0/dim_{k}", z0[:, k])
        self.writer.flush()
