"""training_callbacks: the best checkpoint kept across resumption, and the NaN guard before every
save (the callbacks alone on a real model; tests/test_training.py runs them inside fit)."""

import json
import os

import numpy as np
import tensorflow as tf

from tf_dpvae import training_callbacks


def test_best_checkpoint_keeps_the_lowest_validation_nelbo_across_resumption(tmp_path, make_config):
    """BestCheckpoint on a real model: the epoch with the lowest val_nelbo is the one kept (its very
    weights), a worse epoch never replaces it, and a new callback on the same directory (a resumed
    run) starts from the stored value."""
    from tf_dpvae.model import build_model, restore_weights

    model = build_model(make_config("none", "dp"), (None, 2))
    model.build_optimizers()
    guard = training_callbacks.NaNGuard()
    guard.set_model(model)
    directory = str(tmp_path / "best")

    def epoch(callback, index, value):
        for v in model.decoder.trainable_variables:   # distinct weights per epoch
            v.assign(tf.fill(v.shape, float(index)))
        model.optimizer.iterations.assign(10 * (index + 1))
        callback.on_epoch_end(index, {"val_nelbo": value, "val_loss": -100.0})

    best = training_callbacks.BestCheckpoint(directory, guard, model)
    best.set_model(model)
    for index, value in enumerate([5.0, 3.0, 4.0]):
        epoch(best, index, value)
    record = json.loads(open(os.path.join(directory, "best.json")).read())
    assert record == {"step": 20, "epoch": 2, "val_nelbo": 3.0, "checkpoint": "ckpt-20"}
    other = build_model(make_config("none", "dp"), (None, 2))
    restore_weights(other, tf.train.latest_checkpoint(directory))
    assert all(np.all(v.numpy() == 1.0) for v in other.decoder.trainable_variables)

    resumed = training_callbacks.BestCheckpoint(directory, guard, model)
    resumed.set_model(model)
    assert float(resumed.value.numpy()) == 3.0
    epoch(resumed, 3, 3.5)
    assert tf.train.latest_checkpoint(directory).endswith("ckpt-20")
    epoch(resumed, 4, 2.5)
    assert tf.train.latest_checkpoint(directory).endswith("ckpt-50")
    assert os.listdir(directory).count("ckpt-20.index") == 0  # one best is kept


def test_non_finite_weights_are_never_checkpointed(tmp_path, make_config):
    """A step whose loss was finite but whose update wrote NaN (the last of an epoch, say): the guard
    finds it before the save, stops training, and nothing is written."""
    from tf_dpvae.model import build_model, make_checkpoint

    model = build_model(make_config("none", "dp"), (None, 2))
    model.build_optimizers()
    guard = training_callbacks.NaNGuard()
    guard.set_model(model)
    manager = tf.train.CheckpointManager(make_checkpoint(model), str(tmp_path), max_to_keep=3)
    saver = training_callbacks.CheckpointOnEpoch(manager, guard)
    saver.set_model(model)
    model.optimizer.iterations.assign(10)
    saver.on_epoch_end(0)
    assert manager.latest_checkpoint.endswith("ckpt-10")
    kernel = model.decoder.trainable_variables[0]
    kernel.assign(tf.tensor_scatter_nd_update(kernel, [[0, 0]], [float("nan")]))
    model.optimizer.iterations.assign(20)
    saver.on_epoch_end(1)
    saver.on_train_end()
    assert manager.latest_checkpoint.endswith("ckpt-10")
    assert guard.bad_step == 20 and model.stop_training
