"""TensorBoard's pictures of a training run: ``ImageSummaries`` (image data: reconstructions and
samples, in logs/images) and ``FigureSummaries`` (2-D data: the paper's figure every
``FIGURE_EVERY`` epochs, in logs/latents), and ``moons_figure_png``, the figure itself, which
``training`` also writes as the run's ``figure.png``. Every image is drawn from fixed inputs and
fixed seeds, so that epochs compare. The rest of a run's summaries, and the layout of its logs, are
``summaries``'.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_dpvae import plots
from tf_dpvae.summaries import optimizer_step

FIGURE_EVERY = 5   # epochs between two 2-D figures in TensorBoard (and the last, and the best)


class ImageSummaries(keras.callbacks.Callback):
    """TensorBoard images every epoch (image data only), all with fixed inputs so that epochs compare:

    images/reconstructions   left a fixed validation batch ("data x"), right its reconstructions
                             E[x | z = μ(x)] in the same places; every grid is titled in the
                             picture itself (``plots.labelled``)
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
        drawn = model.sample(self.num_samples, self.seed)
        samples = plots.image_grid(drawn["images"].numpy(), self.columns)
        shown = plots.labelled(samples, "E[x | z = g⁻¹(ε)]" if not model.prior.is_identity
                               else "E[x | z = ε]")
        with self.writer.as_default(step=optimizer_step(model)):
            tf.summary.image("images/reconstructions", plots.side_by_side(
                plots.labelled(plots.image_grid(self.batch, c), "data x"),
                plots.labelled(plots.image_grid(recon, c), "E[x | z = μ(x)]"))[None],
                             description="left: a fixed batch of validation images; right: their "
                                         "reconstructions E[x | z = μ(x)], in the same places")
            tf.summary.image("images/samples", shown[None],
                             description="E[x | z], z = g⁻¹(ε), ε ~ N(0, I) (a fixed draw)")
            if not model.prior.is_identity:
                unmapped = plots.image_grid(model.decode_mean(drawn["z0"]).numpy(), self.columns)
                tf.summary.image("images/samples_vs_unmapped", plots.side_by_side(
                    shown, plots.labelled(unmapped, "E[x | z = ε], prior ignored"))[None],
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
        with self.writer.as_default(step=optimizer_step(self.model)):
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
