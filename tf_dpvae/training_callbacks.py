"""The Keras callbacks of ``training.fit`` that guard a run and keep its checkpoints (its TensorBoard
callbacks are ``summaries``' and ``summary_images``'), in the order ``training.build_callbacks``
puts them:

    NaNGuard               stops at the first non-finite loss; ``healthy()`` also checks the weights
                           (``weights_finite``) before anything is saved
    StopAtStep             stops once the optimizer has taken ``train.steps`` steps in total
    CommonValidationNoise  the same reparameterization noise in every validation pass
    BestCheckpoint         checkpoints/best/: the epoch with the lowest validation negative ELBO
                           (``SELECTION_METRIC``), and ``BEST_RECORD`` saying which it is
    CheckpointOnEpoch      checkpoints/: the latest state, every epoch and at the end of training
"""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tf_dpvae import checkpoints
from tf_dpvae.runs import BEST_RECORD
from tf_dpvae.files import write_atomic
from tf_dpvae.model import DPVAE, make_checkpoint, restore_weights
from tf_dpvae.summaries import StepCounter

SELECTION_METRIC = "val_nelbo"


def weights_finite(model: DPVAE) -> bool:
    """Whether every floating-point variable of the model and its optimizers is finite.

    The loss of a step is computed before its update: a step whose loss is finite can still write
    NaN into the weights, and at the end of an epoch nothing but this check would stop those weights
    being saved."""
    variables = list(model.variables) + list(model.optimizer.variables)
    if model.discriminator_optimizer is not None:
        variables += list(model.discriminator_optimizer.variables)
    values = (np.asarray(keras.ops.convert_to_numpy(v)) for v in variables)
    return all(np.isfinite(a).all() for a in values if a.dtype.kind == "f")


class CheckpointOnEpoch(keras.callbacks.Callback):
    """Saves at the end of every epoch and of training, unless the loss or the weights have gone
    non-finite (``NaNGuard.healthy``)."""

    def __init__(self, manager: checkpoints.Rotation, guard: "NaNGuard"):
        super().__init__()
        self.manager = manager
        self.guard = guard
        self.last_saved_step = -1

    def save(self):
        step = int(self.model.optimizer.iterations.numpy())
        if step != self.last_saved_step and self.guard.healthy():
            self.manager.save(checkpoint_number=step)
            self.last_saved_step = step

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def on_train_end(self, logs=None):
        self.save()


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers the step; ``healthy()`` also
    checks the weights (before anything is saved).

    The logs' loss is the epoch's running mean, non-finite from the first non-finite step on, so one
    look per call of the training function is enough to stop; the exact step is the one the compiled
    step recorded (``model.StepMonitor.first_nonfinite``) when the model has a monitor, else the
    step reached (exact when every call runs one step)."""

    def __init__(self):
        super().__init__()
        self.bad_step = None

    def _stop(self, step=None):
        self.bad_step = step or int(self.model.optimizer.iterations.numpy())
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            monitor = self.model.step_monitor
            self._stop(int(monitor.first_nonfinite.numpy()) if monitor is not None else None)

    def healthy(self) -> bool:
        """No non-finite loss so far and every weight finite; otherwise stop training."""
        if self.bad_step is None and not weights_finite(self.model):
            self._stop()
        return self.bad_step is None


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation negative ELBO (``val_nelbo``).

    The criterion is R + KL on the validation split, whatever the objective: the objective's own
    loss contains its weights (β, γ, λ…) and would favour whatever they reward. The value is stored
    inside the checkpoint (``selection``), so a resumed run compares against the best so far, and in
    ``best.json`` for people. The latest checkpoint stays the one training resumes from.

    Epochs that end before ``start_step`` are not candidates: while the regularizer is still being
    ramped in (``reg_warmup_steps``) the model is closer to a plain VAE, whose negative ELBO is lower
    than any regularized model's, and would otherwise win the comparison.
    """

    def __init__(self, directory: str, guard: NaNGuard, model: DPVAE, start_step: int = 0,
                 log=print):
        super().__init__()
        self.directory = directory
        self.guard = guard
        self.start_step = start_step
        self.value = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="selection")
        checkpoint = make_checkpoint(model, with_optimizers=False)
        checkpoint.selection = self.value
        # A damaged best checkpoint with no intact one left only restarts the selection (said so):
        # the weights training resumes from are the latest checkpoint's, not this one's.
        found = checkpoints.find(directory)
        if found.notice():
            log(found.notice() + ("" if found.latest else "; the best-epoch selection starts over"))
        self.manager = checkpoints.Rotation(checkpoint, found, keep=1, log=log)
        if self.manager.latest_checkpoint:
            self.value.assign(tf.train.load_variable(checkpoints.tf_path(self.manager.latest_checkpoint),
                                                     "selection/.ATTRIBUTES/VARIABLE_VALUE"))

    def restore_into(self, model: DPVAE) -> str | None:
        """Load the best checkpoint's weights into ``model``; its path, or None when there is none."""
        path = self.manager.latest_checkpoint
        if path:
            restore_weights(model, path)
        return path

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(SELECTION_METRIC)
        if value is None or not math.isfinite(float(value)) or float(value) >= float(self.value):
            return
        if not self.guard.healthy():
            return
        step = int(self.model.optimizer.iterations.numpy())
        if step < self.start_step:
            return
        self.value.assign(float(value))
        path = self.manager.save(checkpoint_number=step)
        if path is None:   # did not read back: the earlier best stays, and so does its record
            return
        write_atomic(os.path.join(self.directory, BEST_RECORD), json.dumps(
            {"step": step, "epoch": epoch + 1, SELECTION_METRIC: float(value),
             "checkpoint": os.path.basename(path)}, indent=2))


class CommonValidationNoise(keras.callbacks.Callback):
    """Every validation pass draws the same reparameterization noise (``reset_evaluation_noise``):
    the validation negative ELBO of two epochs then differs only through the weights."""

    def on_test_begin(self, logs=None):
        self.model.reset_evaluation_noise()


class StopAtStep(StepCounter):
    """Stops once the optimizer has taken ``steps`` steps in total (across resumptions); exact when
    the calls of the training function end on ``steps`` (``training.steps_per_execution``)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step >= self.steps:
            self.model.stop_training = True
