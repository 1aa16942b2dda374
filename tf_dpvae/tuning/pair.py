"""The pair protocol (``tune --pair``): the normal-prior winner and the decoupled-prior model trained
with the very same hyperparameters, by ``training.fit``."""

from __future__ import annotations

import os

from tf_dpvae import data as data_lib
from tf_dpvae import training
from tf_dpvae.config import RunConfig
from tf_dpvae.experiments.protocol import PAIR, twin_configs


def run_pair(best: RunConfig, out_dir: str, splits: data_lib.Splits | None = None,
             verbose: int = 0, log=print) -> dict[str, training.RunResult]:
    """The "no additional tuning" protocol: train the normal-prior winner and the ``dp`` model with
    the very same hyperparameters (same seed, data and epochs), each in its own run directory
    ``out_dir/normal`` and ``out_dir/dp`` (a rerun resumes them).

    The flow's own settings (depth, width) come from the base configuration: they were not tuned.
    """
    if splits is None:
        splits = data_lib.load(best.data, best.train.seed)
    results = {}
    configs = twin_configs(best)   # the one definition of a pair
    for kind in PAIR:
        config = configs[kind]
        result = training.fit(config, os.path.join(out_dir, kind), splits=splits, verbose=verbose,
                              log=log)
        if not result.final_logs and result.model is not None:
            # Already trained by an earlier run: measure the validation metrics again.
            _, val_ds = training.make_pipelines(config, splits)
            evaluated = result.model.evaluate(val_ds, verbose=0, return_dict=True)
            result.final_logs = {f"val_{k}": float(v) for k, v in evaluated.items()}
        results[kind] = result
    return results
