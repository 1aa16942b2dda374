"""What trials are ranked by: the registry ``OBJECTIVES`` (the tune command's ``--objective``
choices). ``val_loss`` and ``val_nelbo`` come from Keras's logs; ``fd`` and ``lp_fd`` are the
Fréchet objectives of ``frechet_objectives``, imported only when chosen (they load TensorFlow and
``tf_dpvae.evaluation``).

"Objective" means here what a trial is ranked by; the training loss's terms are
``regularizers.Objective``."""

from __future__ import annotations

import dataclasses
from typing import Callable

from tf_dpvae.config import ConfigError


@dataclasses.dataclass(frozen=True)
class TuningObjective:
    """What a trial is scored by. ``compute`` is None for a metric Keras logs every epoch; otherwise
    it is called after training as ``compute(model, splits, config) -> float``. ``check``, if given,
    is called as ``check(splits, config)`` before any trial and raises ConfigError if the objective
    cannot run here (e.g. image data without a cached feature classifier)."""

    name: str
    direction: str
    description: str
    compute: Callable | None = None
    check: Callable | None = None


BUILTIN_OBJECTIVES = ("val_loss", "val_nelbo")   # computed from Keras's logs: always available


def _frechet_objective(name: str, description: str, low_posterior: bool) -> TuningObjective:
    """A Fréchet objective of ``frechet_objectives``, imported only when it is chosen; a
    ConfigError naming what is missing if this installation lacks it."""
    try:
        import tf_dpvae.evaluation  # noqa: F401 - what the Fréchet objectives are built on
        from tf_dpvae.tuning import frechet_objectives as objectives
    except ImportError:
        raise ConfigError(f"objective {name!r} needs tf_dpvae.evaluation (not installed in this "
                          f"build); accepted here: {', '.join(BUILTIN_OBJECTIVES)}") from None
    try:
        compute = (objectives.low_posterior_fd_objective if low_posterior
                   else objectives.frechet_distance_objective)
    except AttributeError as err:
        raise ConfigError(f"objective {name!r} needs tf_dpvae.tuning.frechet_objectives.{err.name}, "
                          f"which this build does not provide") from None
    return TuningObjective(name, "min", description, compute, objectives.check)


# name -> loader returning the TuningObjective; a loader raises ConfigError if it cannot run here.
OBJECTIVES: dict[str, Callable[[], TuningObjective]] = {
    "val_loss": lambda: TuningObjective("val_loss", "min", "validation loss (the tuned objective "
                                        "itself: favours small weights)"),
    "val_nelbo": lambda: TuningObjective("val_nelbo", "min", "validation negative ELBO, R + KL "
                                         "(independent of the objective's weights)"),
    "fd": lambda: _frechet_objective("fd", "Fréchet distance of samples to validation data",
                                     low_posterior=False),
    "lp_fd": lambda: _frechet_objective("lp_fd", "Fréchet distance of low-posterior samples",
                                        low_posterior=True),
}


def get_objective(name: str) -> TuningObjective:
    """The objective called ``name``, or a ConfigError naming it and what is accepted."""
    if name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {name!r}; accepted: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]()
