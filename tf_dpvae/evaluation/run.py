"""Evaluate a training run: restore its latest checkpoint, compute every metric, draw every figure.

``evaluate_run(run_dir, settings)`` does the work and returns everything in memory; ``write_results``
writes it (``eval/metrics.json``, ``eval/*.png``, TensorBoard under ``logs/eval``), so that a failure
anywhere before the end leaves an earlier evaluation untouched.

Which samples are used where (settings in brackets):
  * real data: the held-out (validation) split; the training split gives the encodings of q(z).
  * Fréchet distance [num_samples]: decoded prior samples against the held-out data (for vector data,
    on the data themselves); the reference value "train vs held-out" is the same distance between two
    real sets, the floor a perfect model would reach at these sample sizes.
  * LP-FD: the num_samples lowest-q(z) of lp_pool·num_samples prior samples, decoded.
  * sKL and the leakage score [skl_samples]: prior samples and q(z) samples in the representation space.
  * NLL [nll_examples, is_samples]: the first nll_examples held-out examples, K = is_samples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tf_dpvae import data as data_lib
from tf_dpvae import divergences, locks, plots, runs
from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density, sample_aggregate_posterior
from tf_dpvae.config import RunConfig
from tf_dpvae.errors import UserError
from tf_dpvae.evaluation import frechet, importance_nll, leakage, posterior_samples, symmetric_kl
from tf_dpvae.files import publish_dir, write_atomic

DEFAULT_TAUS = (-90.0, -70.0, -50.0, -30.0, -20.0, -10.0, -6.0, -4.0, -3.0, -2.0, -1.0)


class EvaluationError(UserError):
    """The run directory or a setting cannot be evaluated; the message says why."""


# Upper bounds on the evaluation's sizes (issue 14), beside the memory estimate of
# ``check_memory``: far above the paper's (10,000 samples, K = 1,000), far below an int32 overflow.
EVAL_LIMITS = {"num_samples": 10_000_000, "lp_pool": 1_000, "skl_samples": 10_000_000,
               "is_samples": 1_000_000, "nll_examples": 10_000_000, "figure_samples": 10_000,
               "marked": 10_000}
MEMORY_FRACTION = 0.8   # of the machine's physical memory that one evaluation may plan to use


def memory_estimate(settings: "EvalSettings", example_shape, latent_dim: int) -> int:
    """Bytes the largest arrays of ``evaluate_run`` hold at once, roughly: the random and the LP
    samples decoded (float32), the LP pool in z and its log q (float64), the sKL samples."""
    s = settings
    pixels = int(np.prod(example_shape))
    pool = s.lp_pool * s.num_samples
    return (2 * s.num_samples * pixels * 4 + pool * (2 * latent_dim + 2) * 8
            + 4 * s.skl_samples * latent_dim * 8)


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(settings: "EvalSettings", example_shape, latent_dim: int,
                 available: int | None = None) -> None:
    """Raise EvaluationError, before any computation, when ``memory_estimate`` exceeds
    ``MEMORY_FRACTION`` of the machine's memory (``available``, default: physical memory)."""
    available = physical_memory() if available is None else available
    need = memory_estimate(settings, example_shape, latent_dim)
    if available and need > MEMORY_FRACTION * available:
        raise EvaluationError(
            f"num-samples {settings.num_samples:,} with lp-pool {settings.lp_pool} and skl-samples "
            f"{settings.skl_samples:,} need about {need / 2**30:.1f} GiB for examples of shape "
            f"{tuple(example_shape)} (latent-dim {latent_dim}); this machine has "
            f"{available / 2**30:.1f} GiB, of which {MEMORY_FRACTION:.0%} is accepted: lower "
            f"--num-samples or --lp-pool")


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    num_samples: int = 10_000    # generated samples for the Fréchet distance (and LP samples kept)
    lp_pool: int = 5             # LP: rank lp_pool·num_samples prior samples, keep num_samples
    skl_samples: int = 5_000     # per side, for sKL (paper: 5,000) and the leakage score
    is_samples: int = 1_000      # K of the importance-sampled NLL
    nll_examples: int = 1_000    # held-out examples for the NLL
    seed: int = 0
    taus: tuple = DEFAULT_TAUS
    figure_samples: int = 64     # LP/HP samples shown in the figures
    marked: int = 25             # LP/HP samples marked on the q(z) map (paper Fig. 3b: five)
    classifier_dir: str | None = None  # image data: the cached feature classifier (features CLI)
    inception_weights: str | None = None  # image data: network file, see evaluation.inception
    checkpoint: str = "best"     # best (lowest validation negative ELBO) or latest
    # data with ground-truth factors (dsprites_procedural, dsprites, shapes3d): these metrics of
    # evaluation.disentanglement on the encoder means, with disentanglement_lib's sample sizes
    disentanglement: tuple = ()
    disentanglement_train: int = 10_000
    disentanglement_test: int = 5_000

    def __post_init__(self):
        for name in ("num_samples", "lp_pool", "skl_samples", "is_samples", "nll_examples",
                     "figure_samples", "marked"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise EvaluationError(f"{name.replace('_', '-')} must be a positive integer, "
                                      f"got {value!r}")
        for name, high in EVAL_LIMITS.items():
            value = getattr(self, name)
            if value > high:
                raise EvaluationError(f"{name.replace('_', '-')} must be at most {high:,}, got "
                                      f"{value:,}")
        if self.num_samples < 2 or self.skl_samples < 2:
            raise EvaluationError("num-samples and skl-samples must be at least 2 (a covariance and a "
                                  "standard error need two points)")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2 ** 31):
            raise EvaluationError(f"seed must be an integer in [0, 2**31), got {self.seed!r}")
        if self.checkpoint not in ("best", "latest"):
            raise EvaluationError(f"checkpoint must be 'best' or 'latest', got {self.checkpoint!r}")
        if not self.taus or not all(math.isfinite(t) for t in self.taus):
            raise EvaluationError(f"taus must be finite numbers, got {self.taus!r}")
        from tf_dpvae.evaluation import disentanglement

        unknown = [m for m in self.disentanglement if m not in disentanglement.METRICS]
        if unknown:
            raise EvaluationError(f"unknown disentanglement metric {unknown[0]!r}; accepted: "
                                  f"{', '.join(disentanglement.METRICS)}")
        for name in ("disentanglement_train", "disentanglement_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise EvaluationError(f"{name.replace('_', '-')} must be a positive integer, "
                                      f"got {value!r}")


@dataclasses.dataclass
class Restored:
    config: RunConfig
    model: object
    checkpoint: str
    step: int
    splits: data_lib.Splits
    checkpoint_kind: str = "latest"


def restore_run(run_dir: str, checkpoint: str = "best") -> Restored:
    """Rebuild the model a run's ``config.json`` describes, load its best (default) or latest
    checkpoint and its data.

    Raises EvaluationError if ``run_dir`` is not a run, has no checkpoint, or the checkpoint does not
    fit the model (``runs.load_run``).
    """
    try:
        run = runs.load_run(run_dir, with_data=True, checkpoint=checkpoint)
    except runs.RunError as err:
        raise EvaluationError(str(err)) from None
    return Restored(run.config, run.model, run.checkpoint, run.step, run.splits,
                    run.checkpoint_kind)


def _batched(fn, array, batch=2048, desc=None):
    """fn over [n, ...] in batches → NumPy concatenation (with a progress bar when desc is given)."""
    starts = range(0, len(array), batch)
    if desc:
        starts = tqdm(starts, desc=desc, unit="batch", leave=False)
    return np.concatenate([np.asarray(fn(array[s:s + batch])) for s in starts])


# Features of the real images (the held-out set and the training head) depend on the feature network
# and the images only, not on the model evaluated: ``reproduce table1`` evaluates every model in one
# process on the same ones, and they are about half of the Fréchet stage's network passes. Kept per
# (network, images) key, the last _REFERENCE_CACHE_SIZE of them (a few MB each).
_REFERENCE_FEATURES: dict = {}
_REFERENCE_CACHE_SIZE = 8


def _reference_features(features, network_key, images):
    """``features(images)``, computed once per (network_key, image bytes) in this process; read-only.

    network_key: a string that changes whenever the network's weights do (the classifier's weights
    hash, the Inception file's path, size and modification time); None: no caching."""
    if network_key is None:
        return features(images)
    images = np.ascontiguousarray(images)
    key = (network_key, images.shape, images.dtype.str,
           hashlib.sha1(images.reshape(-1).view(np.uint8)).hexdigest())
    if key not in _REFERENCE_FEATURES:
        value = np.asarray(features(images))
        value.setflags(write=False)
        while len(_REFERENCE_FEATURES) >= _REFERENCE_CACHE_SIZE:
            _REFERENCE_FEATURES.pop(next(iter(_REFERENCE_FEATURES)))
        _REFERENCE_FEATURES[key] = value
    return _REFERENCE_FEATURES[key]


def _inception_key(path):
    stat = os.stat(path)
    return f"inception:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"


def _log_q(points, means, log_vars, desc):
    """log q(z) with a progress bar (chunks of 1,024 points)."""
    parts = [aggregate_posterior_log_density(points[s:s + 1024], means, log_vars)
             for s in tqdm(range(0, len(points), 1024), desc=desc, unit="chunk", leave=False)]
    return np.concatenate(parts)


def _feature_function(example_ndim, classifier_dir, example_shape=None):
    """(features(x) -> [n, f], name, info) for the Fréchet distance.

    Vector data are their own features ("frechet_distance_data"). Images ([H, W, C], clipped to
    [0, 1] as decoders with a Gaussian likelihood can leave that range) go through the penultimate
    layer of the project's classifier ("frechet_distance_classifier", never "FID": FID is defined on
    Inception-v3 pool features), whose test accuracy and weights hash are reported with it.
    """
    if example_ndim == 1:
        return (lambda x: np.asarray(x, np.float64)), "frechet_distance_data", {}
    if example_ndim != 3:
        raise EvaluationError(f"no Fréchet-distance features for examples of rank {example_ndim}")
    if classifier_dir is None:
        raise EvaluationError("image data need --classifier DIR, a feature classifier trained with "
                              "python -m tf_dpvae.features")
    from tf_dpvae.evaluation import classifier

    try:
        model, info = classifier.load_classifier(classifier_dir)
    except (classifier.ClassifierError, OSError, ValueError) as err:
        raise EvaluationError(str(err).splitlines()[0]) from None
    if example_shape is not None and tuple(info["input_shape"]) != tuple(example_shape):
        raise EvaluationError(f"the feature classifier in {classifier_dir!r} takes images of shape "
                              f"{tuple(info['input_shape'])}, the run's data are {tuple(example_shape)}")
    extract = classifier.feature_extractor(model)
    return ((lambda x: extract(np.clip(x, 0.0, 1.0))), "frechet_distance_classifier",
            {"classifier_test_accuracy": info["test_accuracy"],
             "classifier_accuracy_split": info.get("accuracy_split", "test"),
             "classifier_dataset": info.get("dataset"),
             "classifier_weights_sha256": info["weights_sha256"],
             "classifier_dir": os.path.abspath(classifier_dir)})


def resolve_features(example_shape, classifier_dir, dataset, run_dir=None):
    """Like ``_feature_function``, but for images without ``classifier_dir`` it looks for the default
    cache of ``dataset`` (``classifier.find_classifier``); if there is none it returns
    (None, "frechet_distance_classifier", {"skipped": True, "reason": ..., "enable": ...}) so that the
    image Fréchet distances are skipped, and says how to enable them, instead of failing the run.
    """
    if len(example_shape) == 3 and classifier_dir is None:
        from tf_dpvae.evaluation import classifier

        classifier_dir = classifier.find_classifier(dataset, run_dir)
        if classifier_dir is None:
            default = classifier.default_classifier_dir(dataset)
            return None, "frechet_distance_classifier", {
                "skipped": True,
                "reason": f"no feature classifier for {dataset!r} in {os.path.abspath(default)!r} "
                          "(or next to the run)",
                "enable": f"python -m tf_dpvae.features --dataset {dataset} (caches it in {default}), "
                          "then rerun evaluate; or pass --classifier DIR"}
    return _feature_function(len(example_shape), classifier_dir, example_shape)


def evaluate_run(run_dir: str, settings: EvalSettings, log=print) -> dict:
    """Everything ``python -m tf_dpvae.evaluate`` reports, in memory: ``metrics`` (JSON-ready dict)
    and ``figures`` (name → PNG bytes)."""
    timings = {}
    t0 = time.perf_counter()
    restored = restore_run(run_dir, settings.checkpoint)
    model, splits, config = restored.model, restored.splits, restored.config
    check_memory(settings, splits.example_shape, config.model.latent_dim)
    timings["restore"] = time.perf_counter() - t0
    s = settings
    seeds = {"prior_samples": [s.seed, 1], "lp_pool": [s.seed, 2], "skl_prior": [s.seed, 3],
             "skl_posterior_numpy": s.seed * 10 + 4, "hp_pool_numpy": s.seed * 10 + 5,
             "importance_sampling": s.seed + 6, "paths_numpy": s.seed * 10 + 7}
    train, held_out = splits.train, splits.validation
    vector_2d = splits.example_shape == (2,)
    metrics, figures = {}, {}
    factor_source = None
    if s.disentanglement:  # fail fast: data without factors is a user error (exit 2)
        from tf_dpvae.evaluation import disentanglement

        factor_source = disentanglement.factor_source_for(splits)
    features, fd_name, fd_info = resolve_features(splits.example_shape, s.classifier_dir,
                                                  config.data.dataset, run_dir)
    inception_features = None
    if s.inception_weights is not None:  # fail fast, before the long computations
        if len(splits.example_shape) != 3:
            raise EvaluationError(f"--inception-weights applies to image data; {splits.name!r} has "
                                  f"examples of shape {splits.example_shape}")
        from tf_dpvae.evaluation import inception

        try:
            network = inception.load_inception(s.inception_weights)
        except inception.InceptionError as err:
            raise EvaluationError(str(err)) from None
        inception_features = inception.feature_extractor(network)
        # "fid" only for TF-FID's Inception graph; Keras's InceptionV3 weights get their own key
        inception_key, inception_network = inception.metric_name(network), inception.describe(network)
    # Said only now: a bad input found by the checks above is one line on stderr, nothing before it.
    log(f"restored {restored.checkpoint} ({restored.checkpoint_kind}, step {restored.step}); data "
        f"{splits.name}: {len(splits.train)} training, {len(splits.validation)} held-out examples")
    if features is None:
        log(f"image Fréchet distance skipped: {fd_info['reason']}; to enable: {fd_info['enable']}")

    # ---- encodings of the training set: q(z) = (1/N) Σ_n N(z; μ_n, σ_n²)
    t = time.perf_counter()
    encoded = [model.encode(train[i:i + 2048]) for i in
               tqdm(range(0, len(train), 2048), desc="encode training set", unit="batch", leave=False)]
    means = np.concatenate([m.numpy() for m, _ in encoded]).astype(np.float64)
    log_vars = np.concatenate([v.numpy() for _, v in encoded]).astype(np.float64)
    timings["encode"] = time.perf_counter() - t
    latent_dim = means.shape[1]

    def decode(z):
        return _batched(lambda b: model.decode_mean(tf.constant(b, tf.float32)), z, 1024)

    def log_prior(z):        # the prior's full density in z (flow: with the log-determinant)
        return _batched(lambda b: model.prior.log_prob(tf.constant(b, tf.float32)), z).astype(np.float64)

    def log_prior_h(z):      # log N(h(z); 0, I): eq. 6 and HP ranking (h = g, or identity)
        return _batched(lambda b: divergences.standard_normal_log_density(
            model.prior.forward(tf.constant(b, tf.float32))[0]), z).astype(np.float64)

    def prior_draw(n, seed):
        z, z0 = model.prior.sample(n, tf.constant(seed, tf.int32))
        return z.numpy().astype(np.float64), z0.numpy().astype(np.float64)

    # ---- Fréchet distance of random samples, and of low-posterior samples (the LP selection is
    # made even when the distance is skipped: the figures show the LP samples)
    t = time.perf_counter()
    prior_z, _ = prior_draw(s.num_samples, seeds["prior_samples"])
    generated = decode(prior_z)
    pool_z, _ = prior_draw(s.lp_pool * s.num_samples, seeds["lp_pool"])
    pool_log_q = _log_q(pool_z, means, log_vars, "log q(z) of LP pool")
    lp_index = posterior_samples.low_posterior_indices(pool_log_q, s.num_samples)
    lp_z = pool_z[lp_index]
    lp_decoded = decode(lp_z)
    selection = {"generated": s.num_samples, "real_held_out": len(held_out), "lp_kept": s.num_samples,
                 "lp_pool": len(pool_z), "lp_max_log_q": float(pool_log_q[lp_index].max()),
                 "pool_median_log_q": float(np.median(pool_log_q))}
    if features is None:
        metrics[fd_name] = {**fd_info, **selection}
    else:
        network_key = fd_info.get("classifier_weights_sha256")  # None for vector data: no network
        real_features = _reference_features(features, network_key, held_out)
        fd_random = frechet.frechet_distance_of_samples(features(generated), real_features)
        fd_lp = frechet.frechet_distance_of_samples(features(lp_decoded), real_features)
        fd_floor = frechet.frechet_distance_of_samples(
            _reference_features(features, network_key, train[:s.num_samples]), real_features)
        metrics[fd_name] = {**fd_info, "random": fd_random, "low_posterior": fd_lp,
                            "train_vs_held_out": fd_floor, **selection}
    if inception_features is not None:  # the same samples on Inception-v3 pool features
        inception_cache_key = _inception_key(s.inception_weights)
        real_inception = _reference_features(inception_features, inception_cache_key, held_out)
        metrics[inception_key] = {
            "random": frechet.frechet_distance_of_samples(inception_features(generated),
                                                          real_inception),
            "low_posterior": frechet.frechet_distance_of_samples(inception_features(lp_decoded),
                                                                 real_inception),
            "train_vs_held_out": frechet.frechet_distance_of_samples(_reference_features(
                inception_features, inception_cache_key, train[:s.num_samples]), real_inception),
            "inception_weights": os.path.abspath(s.inception_weights),
            "inception_network": inception_network, **selection}
    timings["frechet"] = time.perf_counter() - t

    # ---- symmetric KL and leakage, in the representation space
    t = time.perf_counter()
    skl_p_z, _ = prior_draw(s.skl_samples, seeds["skl_prior"])
    skl_q_z, _ = sample_aggregate_posterior(means, log_vars, s.skl_samples,
                                            np.random.default_rng(seeds["skl_posterior_numpy"]))
    log_q_at_p = _log_q(skl_p_z, means, log_vars, "log q(z) at prior samples")
    log_q_at_q = _log_q(skl_q_z, means, log_vars, "log q(z) at q samples")
    log_p_at_q = log_prior(skl_q_z)
    metrics["symmetric_kl"] = {**symmetric_kl.symmetric_kl(log_prior(skl_p_z), log_q_at_p, log_p_at_q,
                                                           log_q_at_q),
                               "samples_per_side": s.skl_samples,
                               "estimator": "Monte Carlo with exact log p(z) and log q(z), in z"}
    timings["symmetric_kl"] = time.perf_counter() - t
    t = time.perf_counter()
    log_ph_at_q = log_prior_h(skl_q_z)
    # eq. (6) thresholds on log p(z) and divides by N(h(z); 0, I): see evaluation/leakage.py
    leak = leakage.leakage_variants(log_q_at_q, log_p_at_q, log_ph_at_q, s.taus)
    metrics["leakage"] = {
        "q_samples": s.skl_samples,
        "headline": leakage.HEADLINE_VARIANT,
        "variants": dict(leakage.VARIANTS),
        "variants_coincide": bool(model.prior.is_identity),  # normal prior: h = id, log|det| = 0
        **{variant: {key: [None if math.isnan(v) else float(v) for v in values]
                     for key, values in table.items()} for variant, table in leak.items()}}
    timings["leakage"] = time.perf_counter() - t

    # ---- NLL by importance sampling
    t = time.perf_counter()
    x_nll = held_out[:s.nll_examples]
    with tqdm(total=len(x_nll), desc=f"IS-NLL (K={s.is_samples})", unit="example", leave=False) as bar:
        nll = importance_nll.importance_sampled_nll(model, x_nll, s.is_samples,
                                                    seeds["importance_sampling"], progress=bar.update)
    count = len(x_nll)
    metrics["nll"] = {
        "importance_sampled": float(nll["nll"].mean()),
        "importance_sampled_se_over_examples": float(nll["nll"].std(ddof=1) / math.sqrt(count))
        if count > 1 else None,
        "mean_per_example_is_se": float(nll["nll_se"].mean()),
        "negative_elbo": float(nll["neg_elbo"].mean()),
        "min_effective_sample_size": float(nll["ess"].min()),
        "median_effective_sample_size": float(np.median(nll["ess"])),
        "examples": count, "is_samples": s.is_samples, "split": "held-out (validation), first examples",
        "units": "nats per example, on the data's scale as the model sees it"}
    timings["nll"] = time.perf_counter() - t

    # ---- disentanglement, on the encoder means in the representation space z
    if factor_source is not None:
        t = time.perf_counter()
        result = disentanglement.disentanglement_scores(
            lambda x: model.encode(tf.constant(x, tf.float32))[0].numpy(), factor_source, s.seed,
            metrics=s.disentanglement, num_train=s.disentanglement_train,
            num_test=s.disentanglement_test)
        metrics["disentanglement"] = {**result["scores"], "settings": result["settings"],
                                      "seconds": result["seconds"],
                                      "details": {m: result[m] for m in s.disentanglement}}
        timings["disentanglement"] = time.perf_counter() - t

    # ---- figures
    t = time.perf_counter()
    hp_pool_z, _ = sample_aggregate_posterior(means, log_vars, s.num_samples,
                                              np.random.default_rng(seeds["hp_pool_numpy"]))
    shown = min(s.figure_samples, s.num_samples)
    hp_index = posterior_samples.high_posterior_indices(log_prior_h(hp_pool_z), shown)
    hp_z = hp_pool_z[hp_index]
    lp_shown = lp_z[:shown]  # lp_index is sorted lowest log q first
    drawable = vector_2d or held_out.ndim == 4
    tag = f"{config.objective.reg}-{config.prior.kind}, step {restored.step}"
    if drawable:
        scatter_n = shown if held_out.ndim == 4 else min(2000, s.num_samples)
        figures["samples"] = plots.figure_to_png(plots.sample_panels_figure(
            [("random prior samples", generated[:scatter_n]),
             ("low-posterior samples", lp_decoded[:shown]),
             ("high-posterior samples", decode(hp_z))], data=held_out if vector_2d else None,
            title=tag))
    curve_labels = ({"eq6_literal": "eq. 6 (h = id; all variants coincide)"} if model.prior.is_identity
                    else {"eq6_literal": "eq. 6 literal: τ on log p(z), ratio to N(g(z))",
                          "base_density": "base density N(g(z)) for both (authors' code)",
                          "full_density": "full density log p(z) for both"})
    curves = {label: (leak[v]["tau"], leak[v]["leakage_score"], leak[v]["fraction_below"])
              for v, label in curve_labels.items()}
    figures["leakage"] = plots.figure_to_png(plots.leakage_figure(curves, title=tag))
    if latent_dim == 2:
        marked = min(s.marked, shown)
        figures["posterior_map"] = plots.figure_to_png(plots.posterior_map_figure(
            means, log_vars, lp_shown[:marked], hp_z[:marked], prior_z=prior_z[:2000],
            title=f"log q(z) with {marked} LP (x) and HP (+) samples; {tag}"))
    if drawable:
        # traversals around the first held-out example's code μ: each z_k in turn over the
        # 1st-99th percentile of the training means in that dimension, the others fixed
        anchor = model.encode(held_out[:1])[0].numpy()[0].astype(np.float64)
        lo, hi = np.percentile(means, 1, axis=0), np.percentile(means, 99, axis=0)
        steps = 9
        traversal_z = np.repeat(anchor[None, None], latent_dim, 0).repeat(steps, 1)  # [d, T, d]
        for k in range(latent_dim):
            traversal_z[k, :, k] = np.linspace(lo[k], hi[k], steps)
        decoded = decode(traversal_z.reshape(-1, latent_dim)).reshape(
            (latent_dim, steps) + held_out.shape[1:])
        figures["traversals"] = plots.figure_to_png(plots.traversal_figure(
            np.linspace(0, 1, steps), decoded, data=held_out if vector_2d else None,
            title=f"latent traversals (1st-99th percentile of μ_k); {tag}"))
        # a straight line in z0 between g(μ_a) and g(μ_b), through g⁻¹, against the straight line in z
        rng = np.random.default_rng(seeds["paths_numpy"])
        a, b = means[rng.choice(len(means), 2, replace=False)]
        z0_a, z0_b = (model.prior.forward(tf.constant(v[None], tf.float32))[0].numpy()[0]
                      for v in (a, b))
        w = np.linspace(0, 1, 12)[:, None]
        z_of_z0 = model.prior.inverse(tf.constant((1 - w) * z0_a + w * z0_b, tf.float32)).numpy()
        z_line = (1 - w) * a + w * b
        figures["paths"] = plots.figure_to_png(plots.path_figure(
            z_of_z0, z_line, decode(z_of_z0), decode(z_line), means=means[:3000],
            data=held_out if vector_2d else None, title=tag))
    timings["figures"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0

    return {"metrics": {
        "run_dir": os.path.abspath(run_dir), "checkpoint": restored.checkpoint,
        "checkpoint_kind": restored.checkpoint_kind, "step": restored.step,
        "model": {"reg": config.objective.reg, "prior": config.prior.kind, "latent_dim": latent_dim,
                  "likelihood": config.model.likelihood, "dataset": splits.name},
        "settings": {**dataclasses.asdict(s), "taus": list(s.taus)}, "seeds": seeds,
        "data": {"train": len(train), "held_out": len(held_out)},
        "metrics": metrics, "timings_seconds": timings,
        "figures": sorted(f"{k}.png" for k in figures)}, "figures": figures,
        # "arrays": decoded samples (NumPy; low_posterior lowest q(z) first) for callers that draw their
        # own figures (reproduce table1); not written by write_results. figure_samples of each for
        # images, up to 2,000 for vector data (a scatter needs more)
        "arrays": {"random": generated[:shown if held_out.ndim == 4 else min(2000, s.num_samples)],
                   "low_posterior": lp_decoded[:shown if held_out.ndim == 4
                                               else min(2000, s.num_samples)]}}


def write_results(run_dir: str, results: dict, extra_files: dict | None = None) -> str:
    """Write ``eval/`` as one set, then the TensorBoard summaries under ``logs/eval``.

    ``eval/`` (``metrics.json``, the PNGs, and ``extra_files``: name → bytes, e.g. table1's
    ``samples.npz``) is built aside and swapped in whole (``files.publish_dir``): a kill leaves the
    old set or the new one, never new figures beside old metrics, and temporaries of a killed earlier
    evaluation are removed. Files that an earlier evaluation left in ``eval/`` and this one does not
    write are gone with the old set. Holds the run-directory lock (``locks.hold``) while it writes.
    """
    m = results["metrics"]

    def fill(directory):
        for name, png in results["figures"].items():
            write_atomic(os.path.join(directory, f"{name}.png"), png)
        for name, payload in (extra_files or {}).items():
            write_atomic(os.path.join(directory, name), payload)
        write_atomic(os.path.join(directory, "metrics.json"), json.dumps(m, indent=2, sort_keys=True))

    with locks.hold(run_dir, "evaluate"):
        out = publish_dir(os.path.join(run_dir, "eval"), fill)
        step = max(m["step"], 0)
        writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs", "eval"))
        with writer.as_default(step=step):
            for group, values in m["metrics"].items():
                for key, value in values.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in (
                            "generated", "real_held_out", "lp_kept", "lp_pool", "samples_per_side",
                            "examples", "is_samples", "q_samples"):
                        tf.summary.scalar(f"{group}/{key}", value)
            for variant in leakage.VARIANTS:  # all three for every prior: one tag across runs
                table = m["metrics"]["leakage"].get(variant)
                if table:
                    for tau, value in zip(table["tau"], table["leakage_score"]):
                        tf.summary.scalar(f"leakage_{variant}/tau_{tau:g}", value)
            for name, png in results["figures"].items():
                tf.summary.image(name, tf.image.decode_png(png, channels=4)[None])
        writer.flush()
        writer.close()
    return os.path.join(out, "metrics.json")
