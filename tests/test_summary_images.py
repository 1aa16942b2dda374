"""summary_images: TensorBoard's pictures of a run, read back from the event files (image data here;
the 2-D figure's schedule is checked on a tiny moons run in tests/test_summaries.py and
tests/test_training.py)."""

import numpy as np
import tensorflow as tf

from tf_dpvae import summary_images, training
from test_image_training import TINY_CONV, image_summaries, random_splits


def test_image_summaries_show_the_validation_batch_and_both_samplers(tmp_path, make_config):
    """The left grid of the reconstructions is the fixed validation batch itself, and under the
    decoupled prior the two halves of the comparison decode different codes (g⁻¹(ε) vs ε) once the
    flow is not the identity."""
    splits = random_splits((28, 28, 1), n_train=8, n_val=8, seed=1)
    config = make_config("none", "dp", model=TINY_CONV, train={"steps": 1, "batch_size": 4})
    result = training.fit(config, str(tmp_path), splits=splits, verbose=0, log=lambda *_: None)
    images = image_summaries(str(tmp_path / "logs" / "images"))
    grid = images["images/reconstructions"][..., 0].astype(np.float32) / 255
    first = grid[14 + 2:14 + 30, 2:30]   # under the 14 px title strip
    np.testing.assert_allclose(first, splits.validation[0, ..., 0], atol=1 / 255 + 1e-6)
    model = result.model
    # make the flow visibly non-identity, then compare the callback's two panels directly
    for weight in model.prior.trainable_weights:
        weight.assign(tf.random.stateless_normal(weight.shape, [1, 2]) * 0.5)
    callback = summary_images.ImageSummaries(str(tmp_path / "again"), splits.validation, seed=0)
    callback.set_model(model)
    callback.on_epoch_end(0)
    side_by_side = image_summaries(str(tmp_path / "again"))["images/samples_vs_unmapped"]
    half = (side_by_side.shape[1] - 8) // 2
    assert not np.array_equal(side_by_side[:, :half], side_by_side[:, -half:])


def test_the_2d_figure_every_few_epochs_and_at_the_last_never_after_a_nan(tmp_path, monkeypatch):
    """FigureSummaries' schedule, alone: a figure at epochs 5 and 10 of 12 (``every`` 5) and at the
    last, each at the optimizer's step; none once the guard has seen a non-finite value."""
    from types import SimpleNamespace

    from conftest import one_pixel_png
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setattr(summary_images, "moons_figure_png", one_pixel_png)

    def epochs(directory, bad_step=None):
        model = SimpleNamespace(optimizer=SimpleNamespace(iterations=tf.Variable(0, dtype=tf.int64)),
                                stop_training=False)
        callback = summary_images.FigureSummaries(str(directory), np.zeros((4, 2), np.float32), seed=0,
                                                  guard=SimpleNamespace(bad_step=bad_step), every=5)
        callback.set_model(model)
        callback.set_params({"epochs": 12})
        for epoch in range(12):
            model.optimizer.iterations.assign(10 * (epoch + 1))
            callback.on_epoch_end(epoch)
        acc = EventAccumulator(str(directory), size_guidance={"tensors": 0})
        acc.Reload()
        return [e.step for e in acc.Tensors("figure")] if "figure" in acc.Tags()["tensors"] else []

    assert epochs(tmp_path / "healthy") == [50, 100, 120]
    assert epochs(tmp_path / "diverged", bad_step=7) == []
