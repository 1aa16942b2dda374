"""The keras-tuner tuners by name (``TUNERS``, the tune command's ``--tuner`` choices), each with its
budget, and ``make_tuner``."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt


class _PassTrialId:
    """Tuner mixin: hands the trial's id to ``HyperModel.fit`` (for its log directory and record);
    ``budget`` is what the tuner is given to limit the search (default: ``max_trials``)."""

    @staticmethod
    def budget(settings) -> dict[str, Any]:
        return {"max_trials": settings.max_trials}

    def run_trial(self, trial, *args, **kwargs):
        kwargs["trial_id"] = trial.trial_id
        return super().run_trial(trial, *args, **kwargs)


class RandomTuner(_PassTrialId, kt.RandomSearch):
    pass


class HyperbandTuner(_PassTrialId, kt.Hyperband):
    @staticmethod
    def budget(settings) -> dict[str, Any]:
        """A budget of epochs (``--epochs``, factor 3) instead of a number of trials."""
        return {"max_epochs": settings.base.train.epochs, "factor": 3}


class BayesianTuner(_PassTrialId, kt.BayesianOptimization):
    pass


# The tuners by name: the tune command's --tuner choices are this registry's keys.
TUNERS: dict[str, type[kt.Tuner]] = {"random": RandomTuner, "hyperband": HyperbandTuner,
                                     "bayesian": BayesianTuner}


def make_tuner(settings, hypermodel, out_dir: str) -> kt.Tuner:
    """The tuner of ``settings`` (a ``SearchSettings``) over ``hypermodel`` (a ``DPVAEHyperModel``) in
    ``out_dir``; ``overwrite=False`` makes it reload an earlier search."""
    objective = kt.Objective(settings.objective, direction=hypermodel.objective.direction)
    tuner_cls = TUNERS[settings.tuner]
    tuner = tuner_cls(hypermodel=hypermodel, objective=objective, seed=settings.base.train.seed,
                      directory=out_dir, project_name="search", overwrite=False,
                      **tuner_cls.budget(settings))
    # Hyperband has no max_trials argument, but its oracle honours the attribute; setting it for all
    # tuners also lets a rerun with a larger --max-trials extend a reloaded search.
    tuner.oracle.max_trials = settings.max_trials
    return tuner
