"""One cell of an experiment: train (or resume) one configuration in its run directory, evaluate its
best checkpoint, and write ``eval/`` with the decoded samples the sample sheets show.

``train_and_evaluate_cell`` is what Table 1 (``experiments.table1``), the disentanglement table
(``benchmarks/disentanglement_table.py``) and the notebooks (``explore.train_and_evaluate``) run
for each model, so that a run directory has the same layout whoever made it. It joins training and
evaluation: TensorFlow is imported with this module.
"""

from __future__ import annotations

import dataclasses
import time

from tf_dpvae import training
from tf_dpvae.config import RunConfig
from tf_dpvae.evaluation import publish
from tf_dpvae.evaluation import run as eval_run
from tf_dpvae.experiments.results import (SAMPLES_FILE, extract_values, read_timing, samples_payload,
                                          write_timing)


@dataclasses.dataclass
class Evaluated:
    """What ``train_and_evaluate_cell`` returns.

    run: ``training.RunResult`` (``run.model`` holds the best checkpoint's weights), None when the
    cell was not trained in this call; metrics: the ``eval/metrics.json`` dict; figures: name → PNG
    bytes (``eval/*.png``); arrays: decoded random and low-posterior samples; values: the Table 1
    numbers of ``results.extract_values`` (fd, lp_fd, lp_fd_ratio, skl, nll, neg_elbo, leakage =
    LS(τ) at ``tau``), None where not computed; timing: wall seconds of training (summed over
    resumptions) and of this evaluation, as ``table1_timing.json`` records them when timed.
    """

    run: training.RunResult | None
    metrics: dict
    figures: dict
    arrays: dict
    values: dict
    timing: dict | None = None


def train_and_evaluate_cell(config: RunConfig | None, settings: eval_run.EvalSettings, out: str,
                            splits=None, tau: float = -4.0, log=print, timed: bool = False,
                            **fit_options) -> Evaluated:
    """Train (or resume) ``config`` in ``out``, evaluate its best checkpoint, write ``eval/``.

    Args:
      config: the run's ``RunConfig``; None evaluates ``out`` as it stands (trained already, or a
        retrofit).
      settings: ``evaluation.run.EvalSettings`` (sizes, seed, the feature classifier for images).
      out: the run directory (new, or an earlier run of the same configuration to resume).
      splits: the data, already loaded (``data.load``), to share it between models; default: loaded.
      tau: the threshold τ of the leakage score reported in ``values["leakage"]``.
      log: where progress lines go.
      timed: add the wall seconds to ``out/table1_timing.json`` (training's even when it fails).
      fit_options: more keyword arguments of ``training.fit`` (``hparams_experiment``).

    Raises:
      training.TrainingDiverged, evaluation.run.EvaluationError, config.ConfigError: as the two steps.
    """
    timing = read_timing(out) if timed else None
    result = None
    if config is not None:
        started = time.perf_counter()
        try:
            result = training.fit(config, out, splits=splits, verbose=0, log=log, **fit_options)
        finally:
            if timed:
                timing["train_seconds"] += time.perf_counter() - started
                write_timing(out, timing)
        if timed:
            log(f"trained to step {result.step} ({timing['train_seconds']:.0f} s of training in all)")
    started = time.perf_counter()
    evaluated = eval_run.evaluate_run(out, settings, log=log)
    # eval/ as one set, samples.npz in it: the model is done when it appears
    publish.write_results(out, evaluated,
                          extra_files={SAMPLES_FILE: samples_payload(evaluated["arrays"])})
    if timed:
        timing["eval_seconds"] = time.perf_counter() - started
        write_timing(out, timing)
    values = extract_values(evaluated["metrics"], tau)["values"]
    return Evaluated(result, evaluated["metrics"], evaluated["figures"], evaluated["arrays"], values,
                     timing)
