"""The keras-tuner HyperModel: one trial is the base configuration plus the trial's values, built
and trained by ``training``'s own helpers (``resolve_config``, ``new_model``, ``make_pipelines``,
``build_callbacks``), so that a trial and a ``train`` run of the same configuration match."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Mapping

import keras
import keras_tuner as kt
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from tf_dpvae import data as data_lib
from tf_dpvae import training, training_callbacks
from tf_dpvae.config import RunConfig
from tf_dpvae.files import write_atomic
from tf_dpvae.tuning.objectives import get_objective
from tf_dpvae.tuning.settings import SearchSettings, config_for


class DerivedMetrics(keras.callbacks.Callback):
    """Adds ``val_nelbo`` = val_recon + val_kl (and ``nelbo``) to the epoch's logs.

    Must come before keras-tuner's callbacks and History (Keras appends History last), which read the
    same logs dictionary.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            if f"{prefix}recon" in logs and f"{prefix}kl" in logs:
                logs[f"{prefix}nelbo"] = float(logs[f"{prefix}recon"]) + float(logs[f"{prefix}kl"])


class DPVAEHyperModel(kt.HyperModel):
    """Builds and trains a ``DPVAE`` for one trial: the base configuration plus the trial's values."""

    def __init__(self, settings: SearchSettings, splits: data_lib.Splits, out_dir: str,
                 verbose: int = 0):
        super().__init__(name="dpvae")
        self.settings = settings
        self.splits = splits
        self.out_dir = out_dir
        self.verbose = verbose
        self.objective = get_objective(settings.objective)

    def trial_config(self, values: Mapping[str, Any]) -> RunConfig:
        return training.resolve_config(config_for(self.settings, values), self.splits)

    def build(self, hp):
        values = {e.name: e.declare(hp) for e in self.settings.space.entries}
        # new_model builds (calls) the model, which get_best_models() and Hyperband's weight
        # reloading need, and compiles it with the trial's learning rate. The optimizers' slots are
        # created too, so that Hyperband's continuation of an earlier trial restores their state
        # (Adam moments, the step count behind betab's capacity schedule) along with the weights.
        return training.new_model(self.trial_config(values), self.splits)

    def fit(self, hp, model, *args, trial_id: str = "", callbacks=None, epochs=None,
            initial_epoch=0, **kwargs):
        config = self.trial_config(hp.values)
        epochs = epochs or config.train.epochs
        verbose = kwargs.pop("verbose", self.verbose)
        train_ds, val_ds = training.make_pipelines(config, self.splits)
        log_dir = os.path.join(self.out_dir, "logs", f"trial_{trial_id}")
        trial_values = {e.name: hp.values[e.name] for e in self.settings.space.entries}
        writer = tf.summary.create_file_writer(log_dir)
        with writer.as_default():
            hparams_api.hparams(trial_values, trial_id=f"trial_{trial_id}")
        guard = training_callbacks.NaNGuard()
        # keras-tuner's callbacks last: they read the logs DerivedMetrics completes
        cbs = [DerivedMetrics(), *training.build_callbacks(
            config, self.splits, log_dir, guard, config.train.steps, summaries=False),
            *(callbacks or [])]
        started = time.monotonic()
        history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, shuffle=False,
                            initial_epoch=initial_epoch, callbacks=cbs, verbose=verbose)
        seconds = time.monotonic() - started
        final = {k: float(v[-1]) for k, v in history.history.items() if v}
        if guard.bad_step is not None or not all(map(math.isfinite, final.values())):
            # A failed trial is recorded as such; keras-tuner moves on to the next one.
            raise kt.errors.FailedTrialError(
                f"trial {trial_id}: the loss became non-finite (step {guard.bad_step})")
        result: Any = history
        if self.objective.compute is not None:
            final[self.objective.name] = float(self.objective.compute(model, self.splits, config))
            result = dict(final)
        step = int(model.optimizer.iterations.numpy())
        with writer.as_default(step=step):
            for name, value in final.items():
                tf.summary.scalar(f"final/{name}", value)
        writer.flush()
        self.write_record(trial_id, {
            "trial_id": trial_id, "seed": config.train.seed, "values": trial_values,
            "initial_epoch": initial_epoch, "epochs": epochs, "steps": step,
            "seconds": round(seconds, 3), "final": final})
        return result

    def write_record(self, trial_id: str, record: dict) -> None:
        """``trials/<id>.json``: our record of the trial (the table reads it)."""
        os.makedirs(os.path.join(self.out_dir, "trials"), exist_ok=True)
        write_atomic(os.path.join(self.out_dir, "trials", f"{trial_id}.json"),
                     json.dumps(record, indent=2, sort_keys=True))
