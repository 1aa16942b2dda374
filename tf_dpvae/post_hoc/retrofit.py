"""Retrofit a trained normal-prior run with a post-hoc prior (issue 12): a new run directory.

``retrofit_run(source, settings, out)`` loads the source run's checkpoint (``runs.load_run``), encodes
its training and held-out data with the frozen encoder, fits the prior ``settings`` asks for
(``post_hoc.fit.fit_flow`` or ``fit_gmm``) and writes ``out`` as a run like any other:

    config.json            the source's configuration and example record, plus under ``POST_HOC_KEY``
                           {"settings": the PostHocConfig (K resolved), "source": run, checkpoint, step,
                           "fit": held-out log-likelihood, BIC per K, seconds, ...}
    checkpoints/           every model variable (the source's encoder, decoder, discriminator and RNG
                           states, unchanged, and the fitted prior's), numbered by the source's step;
    checkpoints/best/      the same, when the source checkpoint was its best
    logs/retrofit/         TensorBoard: the flow's negative log-likelihood per step, or the BIC per K

``runs.load_run`` builds the fitted prior from the record, so ``evaluate``, ``export`` and TensorBoard
work on ``out`` unchanged, and every metric that needs p(z) (LP samples, sKL, leakage, IS-NLL) uses it.

Refused, nothing written: a source that is not a run (``runs.RunError``); with ``RetrofitError``, a
source trained with the decoupled prior (its prior was fitted jointly, there is nothing to
retrofit); a source that is itself a retrofit (the rule: retrofits are made from the original run
only, never stacked: retrofit its source instead, whose encoder is the same); an ``out`` that is the
source, a file, or an existing run.
The directory is published as one set (``files.publish_dir``): a kill leaves no half-written run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tf_dpvae import checkpoints, locks, runs
from tf_dpvae.config import POST_HOC_KEY
from tf_dpvae.post_hoc_config import PostHocConfig
from tf_dpvae.errors import UserError
from tf_dpvae.files import publish_dir, write_atomic
from tf_dpvae.evaluation.sampling import encode
from tf_dpvae.model import build_model, make_checkpoint
from tf_dpvae.post_hoc.fit import draw_codes, fit_flow, fit_gmm, mean_log_prob

LOG_DIR = os.path.join("logs", "retrofit")


class RetrofitError(UserError):
    """The source run cannot be retrofitted as asked; the message names the path or value and why."""


@dataclasses.dataclass(frozen=True)
class RetrofitResult:
    out_dir: str
    settings: PostHocConfig      # as fitted: components resolved for gmm
    record: dict                 # config.json's POST_HOC_KEY record
    checkpoint: str


def default_out(source: str, sampler: str) -> str:
    """``<source>-<sampler>``, beside the source run."""
    return f"{os.path.normpath(source)}-{sampler}"


def check_source(source: str) -> dict:
    """The source's config.json as a dict, or RetrofitError when it cannot be retrofitted (see the
    module docstring for the rule)."""
    config = runs.read_config(source)     # runs.RunError for a directory that is not a run
    record = runs.read_post_hoc(source)
    if record is not None:
        origin = record.get("source", {}).get("run_dir", "its source run")
        raise RetrofitError(
            f"{source!r} is already a retrofit (post-hoc {record['settings'].sampler} of {origin!r}); "
            f"retrofits are made from the original run only, never stacked: retrofit {origin!r} instead")
    if config.prior.kind != "normal":
        raise RetrofitError(
            f"{source!r} was trained with the decoupled prior (prior {config.prior.kind!r}), fitted "
            f"jointly with the model; retrofit fits a prior to a run trained with --prior normal")
    with open(os.path.join(source, runs.CONFIG_FILE)) as f:
        return json.load(f)


def check_out(source: str, out: str, overwrite: bool = False) -> None:
    """RetrofitError when ``out`` cannot receive the retrofit: the source itself, a file, or (unless
    ``overwrite``) a directory that already holds a run."""
    if os.path.realpath(out) == os.path.realpath(source):
        raise RetrofitError(f"--out {out!r} is the source run itself; give a new directory")
    if os.path.exists(out) and not os.path.isdir(out):
        raise RetrofitError(f"--out {out!r} is a file; give a new directory")
    if not overwrite and os.path.isfile(os.path.join(out, runs.CONFIG_FILE)):
        raise RetrofitError(f"--out {out!r} already holds a run; give a new directory")


def copy_weights(source_model, model) -> None:
    """Assign every variable of ``source_model`` to the variable of ``model`` with the same path; the
    prior's variables are the only ones ``model`` may have beyond them."""
    given = {v.path: v for v in source_model.variables}
    prior_paths = {v.path for v in model.prior.variables}
    own = {v.path: v for v in model.variables if v.path not in prior_paths}
    if set(own) != set(given):
        missing = sorted(set(own) ^ set(given))[:3]
        raise RetrofitError(f"the retrofitted model's variables do not match the source's ({missing})")
    for path, variable in own.items():
        variable.assign(given[path])


def retrofit_run(source: str, settings: PostHocConfig, out: str | None = None, log=print,
                 progress: bool = True, overwrite: bool = False) -> RetrofitResult:
    """Fit the prior ``settings`` describes to the codes of ``source`` and write ``out`` (default
    ``default_out``); see the module docstring. Raises RetrofitError (or the ``runs.RunError`` of a
    source that is not a run) before anything is written."""
    if settings.sampler == "flow" and settings.components:
        raise RetrofitError(f"components applies to the gmm sampler; got components "
                            f"{settings.components} with sampler flow")
    source_record = check_source(source)
    out = out or default_out(source, settings.sampler)
    check_out(source, out, overwrite)
    if os.path.isdir(out):
        locks.check_free(out)
    started = time.perf_counter()
    with locks.hold(source, "retrofit", log):
        run = runs.load_run(source, with_data=True, checkpoint=settings.checkpoint)
        latest_step = checkpoints.step_of(runs.latest_checkpoint(source))
    splits = run.splits
    log(f"retrofit: {settings.sampler} on {source} ({run.checkpoint_kind} checkpoint, step {run.step}); "
        f"encoding {len(splits.train)} training and {len(splits.validation)} held-out examples")
    means, log_vars = encode(run.model, splits.train)
    held_means, held_log_vars = encode(run.model, splits.validation)
    rng = np.random.default_rng(settings.seed)
    train_codes = draw_codes(means, log_vars, settings.codes, rng)
    held_codes = draw_codes(held_means, held_log_vars, settings.codes, rng)

    fitted = _fit(run, settings, means, log_vars, train_codes, log, progress)
    fit = {"codes_train": len(train_codes), "codes_held_out": len(held_codes), **fitted.fit}
    fit["train_mean_log_likelihood"] = mean_log_prob(fitted.model.prior, train_codes)
    fit["held_out_mean_log_likelihood"] = mean_log_prob(fitted.model.prior, held_codes)
    fit["held_out_mean_log_likelihood_normal"] = float(np.mean(
        -0.5 * np.sum(np.log(2 * np.pi) + held_codes ** 2, axis=1)))
    fit["total_seconds"] = time.perf_counter() - started
    fitted.scalars.append(("retrofit/held_out_mean_log_likelihood", run.step,
                           fit["held_out_mean_log_likelihood"]))
    log(f"retrofit: held-out mean log p(z) {fit['held_out_mean_log_likelihood']:.4f} (N(0, I): "
        f"{fit['held_out_mean_log_likelihood_normal']:.4f}); {fit['total_seconds']:.0f} s")

    record = {"settings": fitted.settings.to_dict(),
              "source": {"run_dir": os.path.abspath(source), "checkpoint": os.path.abspath(run.checkpoint),
                         "checkpoint_kind": run.checkpoint_kind, "step": run.step,
                         "latest_step": latest_step},
              "fit": fit}
    config_json = json.dumps({**source_record, POST_HOC_KEY: record}, indent=2, sort_keys=True)
    fill = functools.partial(_fill, config_json=config_json, model=fitted.model, run=run,
                             scalars=fitted.scalars, record=record, log=log)
    if os.path.isdir(out):
        with locks.hold(out, "retrofit", log):
            publish_dir(out, fill)
    else:
        publish_dir(out, fill)
    path = runs.checkpoint_path(out, "best")[0]
    return RetrofitResult(out_dir=out, settings=fitted.settings, record=record, checkpoint=path)


@dataclasses.dataclass
class _Fitted:
    model: object                # the source's model with the fitted prior (weights not yet copied in)
    settings: PostHocConfig      # components resolved for gmm
    fit: dict                    # what the fit reports (BIC per K, seconds, ...)
    scalars: list                # (tag, step, value) for logs/retrofit


def _fit(run, settings: PostHocConfig, means, log_vars, train_codes, log, progress) -> _Fitted:
    """Build the model with the post-hoc prior, fit the prior (the mixture to ``train_codes``, the
    flow to fresh draws of q(z) from (means, log_vars)), then copy the source's other weights in."""
    scalars, fit = [], {}
    keras.utils.set_random_seed(settings.seed)
    input_shape = (None, *run.splits.example_shape)
    if settings.sampler == "gmm":
        mixture = fit_gmm(train_codes, settings.components, settings.seed, progress=progress)
        settings = dataclasses.replace(settings, components=mixture["components"])
        model = build_model(run.config, input_shape, post_hoc=settings)
        model.prior.assign(mixture["weights"], mixture["means"], mixture["covariances"])
        fit.update({k: mixture[k] for k in ("selected_by", "bic", "converged", "seconds")})
        scalars += [("retrofit/bic", int(k), v) for k, v in mixture["bic"].items()]
        log(f"retrofit: gmm with K = {settings.components} ({mixture['selected_by']}; BIC "
            + ", ".join(f"{k}: {v:.6g}" for k, v in mixture["bic"].items()) + ")")
    else:
        model = build_model(run.config, input_shape, post_hoc=settings)
        flow = fit_flow(
            model.prior, means, log_vars, settings.codes, settings.steps, settings.batch_size,
            settings.lr, settings.seed, progress=progress,
            on_log=lambda step, nll: scalars.append(("retrofit/flow_nll", step, nll)))
        fit.update(final_train_nll=flow["final_nll"], seconds=flow["seconds"])
    copy_weights(run.model, model)
    return _Fitted(model, settings, fit, scalars)


def _fill(directory: str, *, config_json: str, model, run, scalars, record, log) -> None:
    """Write the retrofitted run into ``directory`` (``files.publish_dir`` publishes it whole):
    config.json, the checkpoints as training writes them, and logs/retrofit."""
    write_atomic(os.path.join(directory, runs.CONFIG_FILE), config_json)
    checkpoint = make_checkpoint(model, with_optimizers=False)
    kinds = ["latest"] + (["best"] if run.checkpoint_kind == "best" else [])
    for kind in kinds:   # as training writes them: saved, read back, then recorded
        where = runs.checkpoint_dir(directory, kind)
        saved = checkpoints.Rotation(checkpoint, checkpoints.find(where), keep=1, log=log).save(
            checkpoint_number=max(run.step, 0))
        if saved is None:   # Rotation said why; nothing is published
            raise RetrofitError(f"the retrofit's checkpoint under {where} does not read back")
    writer = tf.summary.create_file_writer(os.path.join(directory, LOG_DIR))
    with writer.as_default():
        for tag, step, value in scalars:
            tf.summary.scalar(tag, value, step=step)
        tf.summary.text("retrofit/record", json.dumps(record, indent=2), step=max(run.step, 0))
    writer.flush()
    writer.close()
