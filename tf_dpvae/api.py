"""The Python API that ``tf_dpvae`` exports (``tf_dpvae.fit``, ``sample``, ``evaluate_run``, ...): thin
wrappers over the library, with the command line's defaults and one-line errors.

Each function takes what a person has at hand (a configuration, a run directory, arrays) and loads
TensorFlow only when called. They write what the commands write, in the same layout: a run trained
here is evaluated, exported or resumed by the command line and back.

Data for ``fit``:

    None                  the data set ``config.data.dataset`` names (default: two moons)
    "NAME"                a data set name, as ``--dataset`` takes it (``fashion_mnist``, ``npz:PATH``, …)
    an array              vectors [N, D] (standardized with the training split's mean and standard
                          deviation, as two moons are) or images [N, H, W(, C)] (uint8 or float in
                          [0, 1]); 10% held out for validation after a permutation from the seed
    (train, validation)   two such arrays, used as given (vectors not standardized)
    a ``data.Splits``     used as given

Arrays are recorded in ``config.json`` as ``data.dataset = "arrays:NAME"`` (they are not stored with
the run): ``evaluate_run`` and ``retrofit_run`` then refuse with one line saying how to make the data
reloadable (save it with ``numpy.save`` and train on ``npz:PATH``), never load other data.
"""

from __future__ import annotations

import os

import numpy as np

from tf_dpvae import runs
from tf_dpvae.config import ConfigError, RunConfig
from tf_dpvae.post_hoc_config import PostHocConfig
from tf_dpvae.evaluation.settings import EvalSettings


def _splits(data, config: RunConfig, name: str):
    """(config, splits or None) for ``fit``'s ``data`` argument (see the module docstring)."""
    if data is None:
        return config, None
    if isinstance(data, str):
        return config.replace(data={"dataset": data}), None
    from tf_dpvae import data as data_lib
    from tf_dpvae.datasets import local

    label = runs.ARRAYS_PREFIX + name
    if isinstance(data, data_lib.Splits):
        return config, data
    if isinstance(data, tuple) and len(data) == 2:
        train, validation = (np.asarray(a) for a in data)
        if train.ndim < 2 or train.shape[1:] != validation.shape[1:]:
            raise data_lib.DataError(f"data: expected (train, validation) arrays of the same example "
                                     f"shape, got {train.shape} and {validation.shape}")
        def as_float(a):   # images as uint8 0-255 → [0, 1], as the loaders give them
            return a.astype(np.float32) / np.float32(255.0) if a.dtype == np.uint8 else a.astype(np.float32)

        return config, data_lib.Splits(as_float(train), as_float(validation), label)
    return config, local.array_splits(data, label, config.train.seed,
                                      image_size=config.data.image_size)


def fit(config: RunConfig | None = None, out: str | None = None, data=None, *, name: str = "data",
        verbose: int = 0, log=print, export: bool = False):
    """Train (or resume) a run; returns ``training.RunResult`` (``out_dir``, ``step``, ``model``,
    ``best_checkpoint``, ``best_value`` = the best epoch's validation negative ELBO, ...).

    config: a ``RunConfig`` (default: the command line's defaults, Factor-dpVAE on two moons).
    out: the run directory (default ``runs/<reg>-<prior>-<dataset>-seed<seed>``, as ``train``'s);
      rerun with the same one to resume.
    data: see the module docstring; ``name`` names arrays in ``config.json`` (``arrays:NAME``).
    verbose: Keras progress output (0 silent, 1 bar, 2 a line per epoch).
    export: also export the SavedModel (``export_run``), as ``train`` does unless ``--no-export``.
    """
    from tf_dpvae.quiet import import_tensorflow_quietly

    config = config if config is not None else RunConfig()
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a tf_dpvae.RunConfig, got {type(config).__name__}")
    import_tensorflow_quietly()
    config, splits = _splits(data, config, name)
    out = out or os.path.join("runs", runs.default_run_name(config))
    from tf_dpvae import training

    result = training.fit(config, out, splits=splits, verbose=verbose, log=log)
    if export:
        export_run(out)
    return result


def load_run(run_dir: str, checkpoint: str = "best", with_data: bool = False):
    """The run's model at its ``best`` (default) or ``latest`` checkpoint: ``runs.LoadedRun``
    (``config``, ``model``, ``checkpoint``, ``step``, and ``splits`` with ``with_data``)."""
    from tf_dpvae.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    return runs.load_run(run_dir, with_data=with_data, checkpoint=checkpoint)


def _model_and_run_dir(run):
    """(model, run directory or None) of a run directory, a ``LoadedRun``, a ``RunResult`` or a
    model."""
    if isinstance(run, (str, os.PathLike)):
        return load_run(os.fspath(run)).model, os.fspath(run)
    if hasattr(run, "model") and hasattr(run, "out_dir"):      # training.RunResult
        return run.model, run.out_dir
    if hasattr(run, "model") and hasattr(run, "config"):       # runs.LoadedRun
        return run.model, None
    return run, None


def sample(run, num_samples: int = 16, seed: int = 0, temperature: float = 1.0,
           data_units: bool = True, return_codes: bool = False):
    """Draw from the model: z0 = T·ε, ε ~ N(0, I) (stateless, from ``seed``), z = g⁻¹(z0), x = E[x | z].

    run: a run directory, ``load_run``'s result, ``fit``'s result, or a model.
    data_units: for vector data trained standardized (two moons, npz vectors, arrays), map back to the
      data's units, x·std + mean, with the constants training recorded (``runs.read_standardization``;
      a bare model has none: standardized units). Images are in [0, 1] either way.
    Returns x as a NumPy array [num_samples, ...]; with ``return_codes`` a dict of ``x``, ``z`` and
    ``z0``.
    """
    import tensorflow as tf

    if not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigError(f"num_samples must be a positive integer, got {num_samples!r}")
    model, run_dir = _model_and_run_dir(run)
    drawn = model.sample(num_samples, tf.constant([seed, 0], tf.int32), temperature)
    x = np.asarray(drawn["images"])
    constants = runs.read_standardization(run_dir) if (data_units and run_dir) else None
    if constants is not None:
        x = x * np.asarray(constants["std"], np.float32) + np.asarray(constants["mean"], np.float32)
    if return_codes:
        return {"x": x, "z": np.asarray(drawn["z"]), "z0": np.asarray(drawn["z0"])}
    return x


def evaluate_run(run_dir: str, settings: EvalSettings | None = None, write: bool = True, log=None,
                 **fields) -> dict:
    """Evaluate a run as ``tf-dpvae evaluate RUN_DIR`` does and return ``metrics.json``'s content
    (with ``write``, also write ``RUN_DIR/eval/`` and its TensorBoard summaries).

    settings: ``EvalSettings`` (default: the command's defaults); ``fields`` override single ones,
    e.g. ``num_samples=2000, is_samples=100``. ``log``: a callable taking one line (default: none).
    """
    import dataclasses

    from tf_dpvae.quiet import import_tensorflow_quietly

    settings = dataclasses.replace(settings or EvalSettings(), **fields)
    import_tensorflow_quietly()
    from tf_dpvae import locks
    from tf_dpvae.evaluation import publish
    from tf_dpvae.evaluation import run as evaluation

    log = log or (lambda line: None)
    with locks.hold(run_dir, "evaluate", log=log):
        results = evaluation.evaluate_run(run_dir, settings, log=log)
        if write:
            publish.write_results(run_dir, results)
    return results["metrics"]


def retrofit_run(run_dir: str, sampler: str = "flow", out: str | None = None, progress: bool = False,
                 log=None, **fields):
    """Fit a prior after training to a normal-prior run's codes, as ``tf-dpvae retrofit`` does:
    ``sampler`` "flow" (the decoupled prior's chain) or "gmm"; ``fields`` are ``PostHocConfig``'s
    (``steps``, ``components``, ``codes``, ...). Returns ``post_hoc.retrofit.RetrofitResult`` (``out_dir``:
    a new run directory that ``evaluate_run`` and ``export_run`` take)."""
    from tf_dpvae.quiet import import_tensorflow_quietly

    settings = PostHocConfig(sampler=sampler, **fields)
    import_tensorflow_quietly()
    from tf_dpvae.post_hoc import retrofit

    return retrofit.retrofit_run(run_dir, settings, out, log=log or (lambda line: None),
                                 progress=progress)


def export_run(run_dir: str, out: str | None = None, max_samples: int | None = None,
               checkpoint: str = "best"):
    """Export the run as the next version of a SavedModel for TF Serving, as ``tf-dpvae export``
    does (default ``saved_models/<run name>/<version>``); returns ``savedmodel.ExportResult``
    (``path``, ``version``, ``step``)."""
    from tf_dpvae.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from tf_dpvae.export import DEFAULT_MAX_SAMPLES, savedmodel

    return savedmodel.export_run(run_dir, out, max_samples=max_samples or DEFAULT_MAX_SAMPLES,
                                 checkpoint=checkpoint)
