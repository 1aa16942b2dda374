"""Decoupled-prior VAEs (Bhalodia, Lee, Elhabian, ACCV 2020) in TensorFlow/Keras 3.

The Python API, in the order a study uses it::

    import tf_dpvae

    config = tf_dpvae.RunConfig().replace(train={"epochs": 5})  # every setting, validated
    result = tf_dpvae.fit(config, out="runs/mine")              # a data set's name, or your arrays
    points = tf_dpvae.sample(result, 1000, seed=1)              # in data units
    metrics = tf_dpvae.evaluate_run("runs/mine")                # FD, sKL, IS-NLL, leakage, figures
    tf_dpvae.export_run("runs/mine")                            # a SavedModel for TF Serving
    run = tf_dpvae.load_run("runs/mine")                        # the model and configuration back

``RunConfig`` (with its sections), ``EvalSettings`` and ``PostHocConfig`` import without TensorFlow,
and so does ``import tf_dpvae`` itself: every name below is imported on first use (PEP 562 module
``__getattr__``), so the command line can check its arguments before TensorFlow loads.
"""

from __future__ import annotations

import importlib

try:   # the installed distribution's version (pyproject.toml); a bare source tree has none
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("tf_dpvae")
except PackageNotFoundError:  # pragma: no cover - only outside an installed copy
    __version__ = "0+unknown"

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    # configuration (no TensorFlow)
    "RunConfig": "tf_dpvae.config",
    "PriorConfig": "tf_dpvae.config",
    "ObjectiveConfig": "tf_dpvae.config",
    "ModelConfig": "tf_dpvae.config",
    "DataConfig": "tf_dpvae.config",
    "TrainConfig": "tf_dpvae.config",
    "PostHocConfig": "tf_dpvae.post_hoc_config",
    "ConfigError": "tf_dpvae.config",
    "UserError": "tf_dpvae.errors",
    "EvalSettings": "tf_dpvae.evaluation.settings",
    # the workflow (TensorFlow loads when one of these is called)
    # (not "train", "evaluate", "export", "retrofit": those are the package's command modules, and
    # importing one would replace the function of the same name on the package)
    "fit": "tf_dpvae.api",
    "load_run": "tf_dpvae.api",
    "sample": "tf_dpvae.api",
    "evaluate_run": "tf_dpvae.api",
    "retrofit_run": "tf_dpvae.api",
    "export_run": "tf_dpvae.api",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tf_dpvae' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # the next lookup does not come here
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
