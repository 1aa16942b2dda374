"""Evaluate a training run: restore its latest checkpoint, compute every metric, draw every figure.

``evaluate_run(run_dir, settings)`` does the work and returns everything in memory (the figures drawn
by ``evaluation.figures``); ``evaluation.publish.write_results`` writes it (``eval/metrics.json``,
``eval/*.png``, TensorBoard under ``logs/run/eval``), so that a failure anywhere before the end leaves
an earlier evaluation untouched.

Which samples are used where (settings in brackets):
  * real data: the held-out (validation) split; the training split gives the encodings of q(z).
  * Fréchet distance [num_samples]: decoded prior samples against the held-out data (for vector data,
    on the data themselves); the reference value "train vs held-out" is the same distance between two
    real sets, the floor a perfect model would reach at these sample sizes.
  * LP-FD: the num_samples lowest-q(z) of lp_pool·num_samples prior samples, decoded.
  * precision, recall, density, coverage [num_samples, nearest_k]: the same random and LP samples
    against the held-out data, on the Fréchet distance's features and, for images, on two untrained
    embeddings (``evaluation.embeddings``): where samples land, which a Fréchet distance averages away.
  * sKL and the leakage score [skl_samples]: prior samples and q(z) samples in the representation space.
  * NLL [nll_examples, is_samples]: the first nll_examples held-out examples, K = is_samples.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time

import numpy as np
import tensorflow as tf

from tf_dpvae import data as data_lib
from tf_dpvae import runs
from tf_dpvae.aggregate_posterior import sample_aggregate_posterior
from tf_dpvae.config import RunConfig
from tf_dpvae.evaluation import (embeddings, frechet, importance_nll, leakage, prdc, sampling,
                                 symmetric_kl)
from tf_dpvae.evaluation import feature_networks
from tf_dpvae.evaluation.feature_networks import array_key, digest, inception_key, reference_features, resolve_features
from tf_dpvae.evaluation.figures import evaluation_figures, figure_arrays, leakage_curves
from tf_dpvae.progress import bar
from tf_dpvae.evaluation.settings import (DEFAULT_TAUS, EVAL_LIMITS, EvalSettings,  # noqa: F401
                                          EvaluationError, check_memory)

@dataclasses.dataclass
class Restored:
    config: RunConfig
    model: object
    checkpoint: str
    step: int
    splits: data_lib.Splits
    checkpoint_kind: str = "latest"
    post_hoc: dict | None = None     # a retrofitted run's record (runs.read_post_hoc)


def restore_run(run_dir: str, checkpoint: str = "best") -> Restored:
    """Rebuild the model a run's ``config.json`` describes, load its best (default) or latest
    checkpoint and its data.

    Raises ``runs.RunError`` if ``run_dir`` is not a run, has no checkpoint, or the checkpoint does
    not fit the model, and ``DataError`` if its data cannot be loaded (``runs.load_run``).
    """
    run = runs.load_run(run_dir, with_data=True, checkpoint=checkpoint)
    return Restored(run.config, run.model, run.checkpoint, run.step, run.splits,
                    run.checkpoint_kind, run.post_hoc)


def evaluation_seeds(seed: int) -> dict:
    """The named sub-seeds of the evaluation seed: one per random stream, so that no two metrics
    share draws and each metric's draws do not depend on which others ran. ``[seed, k]``: a stateless
    TensorFlow seed (prior draws); ``*_numpy``: a NumPy ``default_rng`` seed; ``importance_sampling``:
    ``importance_nll``'s seed. These are the exact seeds every recorded evaluation used (metrics.json's
    ``seeds``): deriving them from a ``numpy.random.SeedSequence`` instead would change every
    recorded metric (results/fashion_mnist) for no gain in independence, since the streams are
    already distinct."""
    return {"prior_samples": [seed, 1], "lp_pool": [seed, 2], "skl_prior": [seed, 3],
            "skl_posterior_numpy": seed * 10 + 4, "hp_pool_numpy": seed * 10 + 5,
            "importance_sampling": seed + 6, "paths_numpy": seed * 10 + 7}


# ------------------------------------------------------------------------------- per-metric functions
def frechet_metric(features, network_key, generated, lp_decoded, held_out, train_head) -> dict:
    """Fréchet distances on ``features`` of random and low-posterior decodings against the held-out
    data, and the floor "train vs held-out" (two real sets of the same sizes). network_key: caches the
    real sets' features (``_reference_features``)."""
    real = reference_features(features, network_key, held_out)
    return {"random": frechet.frechet_distance_of_samples(features(generated), real),
            "low_posterior": frechet.frechet_distance_of_samples(features(lp_decoded), real),
            "train_vs_held_out": frechet.frechet_distance_of_samples(
                reference_features(features, network_key, train_head), real)}


def sample_quality_metric(features, network_key, generated, lp_decoded, held_out, train_head,
                          nearest_k: int, embedding: str, persist_real_features: bool = True) -> dict:
    """Precision, recall, density and coverage (``evaluation.prdc``, k = ``nearest_k``) on
    ``features`` of random (no prefix) and low-posterior (``lp_``) decodings against the held-out data,
    and the same four of the training head against the held-out data (``train_vs_held_out``: what
    a model whose samples are real data would score at these sizes). network_key: caches the real
    set's features and k-NN radii (``reference_features``, in memory and on disk); None: no caching.
    persist_real_features=False: the real set's features themselves are kept in memory only (an
    untrained embedding's, cheaper to compute than to keep on disk); its radii and the real-vs-real
    metrics are cached on disk all the same."""
    scores = {"embedding": embedding, "nearest_k": nearest_k, "generated": len(generated),
              "real_held_out": len(held_out)}
    smallest = min(len(generated), len(held_out), len(train_head))
    if smallest <= nearest_k:   # a k-NN ball needs k other points of its own set
        return {**scores, "skipped": True,
                "reason": f"{smallest} points in the smallest set, k = {nearest_k} needs more"}
    real = reference_features(features, network_key, held_out, persist=persist_real_features)
    radii = reference_features(lambda x: prdc.knn_radii(np.asarray(features(x), np.float64), nearest_k),
                                None if network_key is None else f"{network_key}:radii{nearest_k}",
                                held_out)
    for prefix, samples in (("", generated), ("lp_", lp_decoded)):
        values = prdc.precision_recall_density_coverage(real, features(samples), nearest_k, radii)
        scores.update({f"{prefix}{k}": v for k, v in values.items()})
    # real data against real data: model-independent, so cached like the real features (keyed by
    # the training head's bytes, on top of the held-out set's in ``radii``'s key)
    reference = reference_features(
        lambda head: np.array(list(prdc.precision_recall_density_coverage(
            real, features(head), nearest_k, radii).values())),
        None if network_key is None else f"{network_key}:prdc{nearest_k}:{digest(held_out)}",
        train_head)
    scores["train_vs_held_out"] = dict(zip(prdc.METRICS, map(float, reference)))
    return scores


def latent_sample_quality_metric(terms: "SklTerms", nearest_k: int) -> dict:
    """Precision, recall, density and coverage in the representation space z: the sKL's prior samples
    z ~ p(z) against its samples of the aggregate posterior z ~ q(z). Where the prior puts mass where
    there are no codes (pockets between them, tails beyond them), precision and density fall: the
    question the decoupled prior is trained for, asked of the samples themselves (scale-free, unlike
    log q(z), so comparable between models whose codes spread differently)."""
    n = min(len(terms.p_z), len(terms.q_z))
    scores = {"embedding": "the representation space z (prior samples against q(z) samples)",
              "nearest_k": nearest_k, "generated": len(terms.p_z), "q_samples": len(terms.q_z)}
    if n <= nearest_k:
        return {**scores, "skipped": True,
                "reason": f"{n} points in the smallest set, k = {nearest_k} needs more"}
    return {**scores, **prdc.precision_recall_density_coverage(terms.q_z, terms.p_z, nearest_k)}


def sample_quality_embeddings(fd_features, fd_name: str, fd_key, example_ndim: int) -> list[tuple]:
    """(group name in metrics.json, features, cache key, description) of every embedding the sample
    metrics are computed on: the Fréchet distance's features (the classifier's for images, the data
    for vectors; left out where the image Fréchet distance is skipped), and for images the untrained
    embeddings of ``evaluation.embeddings``."""
    out = []
    if fd_features is not None:
        which = "data" if fd_name == "frechet_distance_data" else "classifier"
        out.append((f"sample_quality_{which}", fd_features, fd_key,
                    "the Fréchet distance's features" + (" (the data)" if which == "data" else
                                                         " (the project's classifier)")))
    if example_ndim == 3:
        out.append(("sample_quality_random_conv", embeddings.random_conv_features,
                    f"random_conv:{embeddings.RANDOM_CONV_SEED}",
                    "a fixed randomly initialized conv net (Naeem et al. 2020)"))
        out.append(("sample_quality_pixels", embeddings.pixel_features, "pixels", "the pixels"))
    return out


@dataclasses.dataclass
class SklTerms:
    """The four log densities of the sKL estimate at n prior and n q(z) samples (in z)."""

    p_z: np.ndarray          # [n, d] z ~ p(z)
    q_z: np.ndarray          # [n, d] z ~ q(z)
    log_p_at_p: np.ndarray   # [n] log p(z), z ~ p
    log_q_at_p: np.ndarray   # [n] log q(z), z ~ p
    log_p_at_q: np.ndarray   # [n] log p(z), z ~ q
    log_q_at_q: np.ndarray   # [n] log q(z), z ~ q


def skl_terms(model, means, log_vars, num_samples, seeds) -> SklTerms:
    """The sKL's samples and exact densities: ``num_samples`` z ~ p(z) (stateless seed
    ``seeds["skl_prior"]``) and z ~ q(z) (NumPy seed ``seeds["skl_posterior_numpy"]``), with log p and
    log q = log (1/N) Σ_n N(z; μ_n, σ_n²) over the encodings (means, log_vars) at both."""
    p_z = sampling.prior_draw(model, num_samples, seeds["skl_prior"])
    q_z, _ = sample_aggregate_posterior(means, log_vars, num_samples,
                                        np.random.default_rng(seeds["skl_posterior_numpy"]))
    log_q_at_p = sampling.log_q(p_z, means, log_vars, "log q(z) at prior samples")
    log_q_at_q = sampling.log_q(q_z, means, log_vars, "log q(z) at q samples")
    return SklTerms(p_z, q_z, sampling.log_prior(model, p_z), log_q_at_p,
                    sampling.log_prior(model, q_z), log_q_at_q)


def symmetric_kl_metric(terms: SklTerms) -> dict:
    """sKL = KL[p‖q] + KL[q‖p] by Monte Carlo on ``terms`` (``symmetric_kl``)."""
    return {**symmetric_kl.symmetric_kl(terms.log_p_at_p, terms.log_q_at_p, terms.log_p_at_q,
                                        terms.log_q_at_q),
            "samples_per_side": len(terms.p_z),
            "estimator": "Monte Carlo with exact log p(z) and log q(z), in z"}


def leakage_metric(model, terms: SklTerms, taus) -> tuple[dict, dict]:
    """LS(τ) of eq. (6) in its three variants at the q(z) samples of ``terms`` → (the metric, the
    per-variant table ``leakage.leakage_variants`` returns, for the figure)."""
    log_ph_at_q = sampling.log_prior_h(model, terms.q_z)
    # eq. (6) thresholds on log p(z) and divides by N(h(z); 0, I): see evaluation/leakage.py
    leak = leakage.leakage_variants(terms.log_q_at_q, terms.log_p_at_q, log_ph_at_q, taus)
    return {
        "q_samples": len(terms.q_z),
        "headline": leakage.HEADLINE_VARIANT,
        "variants": dict(leakage.VARIANTS),
        # normal prior: h = id, log|det| = 0; post-hoc mixture: its base density is log p(z) itself
        "variants_coincide": bool(model.prior.base_is_full_density),
        **{variant: {key: [None if math.isnan(v) else float(v) for v in values]
                     for key, values in table.items()} for variant, table in leak.items()}}, leak


def nll_metric(model, x, is_samples, seed) -> dict:
    """−log p(x) by importance sampling (K = is_samples) and the −ELBO, averaged over examples x."""
    with bar(total=len(x), desc=f"IS-NLL (K={is_samples})", unit="example", leave=False) as examples:
        nll = importance_nll.importance_sampled_nll(model, x, is_samples, seed, progress=examples.update)
    count = len(x)
    return {
        "importance_sampled": float(nll["nll"].mean()),
        "importance_sampled_se_over_examples": float(nll["nll"].std(ddof=1) / math.sqrt(count))
        if count > 1 else None,
        "mean_per_example_is_se": float(nll["nll_se"].mean()),
        "negative_elbo": float(nll["neg_elbo"].mean()),
        "min_effective_sample_size": float(nll["ess"].min()),
        "median_effective_sample_size": float(np.median(nll["ess"])),
        "examples": count, "is_samples": is_samples, "split": "held-out (validation), first examples",
        "units": "nats per example, on the data's scale as the model sees it"}


def disentanglement_metric(model, factor_source, settings: EvalSettings) -> dict:
    """The chosen disentanglement metrics on the encoder means in the representation space z."""
    from tf_dpvae.evaluation import disentanglement

    s = settings
    result = disentanglement.disentanglement_scores(
        lambda x: model.encode(tf.constant(x, tf.float32))[0].numpy(), factor_source, s.seed,
        metrics=s.disentanglement, num_train=s.disentanglement_train, num_test=s.disentanglement_test)
    return {**result["scores"], "settings": result["settings"], "seconds": result["seconds"],
            "details": {m: result[m] for m in s.disentanglement}}


def model_label(reg: str, prior: str) -> str:
    """The model's name as Table 1 prints it (``model_names.model_name``: "FactorVAE", "Factor-dpVAE",
    "VAE + retrofit flow"), in every figure's title; ``reg-prior`` for a combination it lacks."""
    from tf_dpvae.model_names import model_name

    try:
        return model_name(reg, prior)
    except (KeyError, ValueError):
        return f"{reg}-{prior}"



# -------------------------------------------------------------------------------------- orchestrator
def remember(features):
    """``features`` computed once per input (shape, dtype and SHA-1 of the bytes) for the lifetime of
    the returned function, i.e. one evaluation: the Fréchet distance and the sample metrics pass the
    same decoded samples and real images through the same network (its outputs for equal inputs are
    equal, so this changes no value, only how often a network runs)."""
    seen: dict = {}

    def cached(x):
        key = array_key(x)
        if key not in seen:
            seen[key] = features(x)
        return seen[key]

    return cached


class _Clock:
    """Wall seconds per stage: ``with clock("nll"): ...`` adds to ``timings["nll"]``."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, name):
        t = time.perf_counter()
        yield
        # a stage timed in several pieces (sample_quality: images, then z) gets their sum
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": time.perf_counter() - self.started}


def check_inputs(restored: Restored, s: EvalSettings, run_dir: str, log):
    """What fails fast, before any output: the factors of ``--disentanglement`` (data without them
    is a user error), the feature network, the Inception file. Returns (factor source or None,
    (features, metric key, info) of ``resolve_features``, the Inception network or None)."""
    splits = restored.splits
    factor_source = None
    if s.disentanglement:
        from tf_dpvae.evaluation import disentanglement

        factor_source = disentanglement.factor_source_for(splits)
    log(f"restored {restored.checkpoint} ({restored.checkpoint_kind}, step {restored.step}); data "
        f"{splits.name}: {len(splits.train)} training, {len(splits.validation)} held-out examples")
    fd = resolve_features(splits.example_shape, s.classifier_dir, restored.config.data.dataset, run_dir)
    if fd[0] is None:
        log(f"image Fréchet distance skipped: {fd[2]['reason']}; to enable: {fd[2]['enable']}")
    return factor_source, fd, feature_networks.inception_network(s, splits.example_shape, splits.name)


def evaluate_run(run_dir: str, settings: EvalSettings, log=print) -> dict:
    """Everything ``python -m tf_dpvae.evaluate`` reports, in memory: ``metrics`` (JSON-ready dict)
    and ``figures`` (name → PNG bytes). One call per metric function above, in this order: inputs
    checked first (factors, feature network, Inception file), then the training encodings, Fréchet
    distances, sKL, leakage, NLL, disentanglement, figures."""
    s = settings
    clock = _Clock()
    with clock("restore"):
        restored = restore_run(run_dir, s.checkpoint)
        model, splits, config = restored.model, restored.splits, restored.config
        check_memory(s, splits.example_shape, config.model.latent_dim)
    seeds = evaluation_seeds(s.seed)
    train, held_out = splits.train, splits.validation
    metrics = {}
    factor_source, (features, fd_name, fd_info), inception = check_inputs(restored, s, run_dir, log)
    # the Fréchet distance and the sample metrics score the same decoded samples on these features
    features = None if features is None else remember(features)
    if inception is not None:
        inception = (remember(inception[0]),) + tuple(inception[1:])

    with clock("encode"):   # q(z) = (1/N) Σ_n N(z; μ_n, σ_n²) over the training set
        means, log_vars = sampling.encode(model, train, "encode training set")
    # Fréchet distances of random and low-posterior samples (the LP selection is made even when the
    # distance is skipped: the figures show the LP samples)
    with clock("frechet"):
        prior_z, generated, lp = frechet_stage(model, means, log_vars, train, held_out, s, seeds,
                                               (features, fd_name, fd_info), inception, metrics)
        fd_info = metrics[fd_name]
    with clock("sample_quality"):   # where the samples land: precision, recall, density, coverage
        for group, embed, key, about in sample_quality_embeddings(
                features, fd_name, fd_info.get("classifier_weights_sha256"), held_out.ndim - 1):
            metrics[group] = sample_quality_metric(embed, key, generated, lp.decoded, held_out,
                                                   train[:s.num_samples], s.nearest_k, about,
                                                   persist_real_features=embed is features)
    with clock("symmetric_kl"):   # in the representation space
        terms = skl_terms(model, means, log_vars, s.skl_samples, seeds)
        metrics["symmetric_kl"] = symmetric_kl_metric(terms)
    with clock("sample_quality"):
        metrics["sample_quality_latent"] = latent_sample_quality_metric(terms, s.nearest_k)
    with clock("leakage"):
        metrics["leakage"], leak = leakage_metric(model, terms, s.taus)
    with clock("nll"):
        metrics["nll"] = nll_metric(model, held_out[:s.nll_examples], s.is_samples,
                                    seeds["importance_sampling"])
    if factor_source is not None:
        with clock("disentanglement"):
            metrics["disentanglement"] = disentanglement_metric(model, factor_source, s)
    with clock("figures"):
        post_hoc = restored.post_hoc["settings"].sampler if restored.post_hoc else None
        tag = f"{model_label(config.objective.reg, post_hoc or config.prior.kind)}, step {restored.step}"
        figures = evaluation_figures(
            figure_arrays(model, means, log_vars, held_out, generated, lp, prior_z, s, seeds),
            leakage_curves(leak, model.prior.base_is_full_density), tag, lp_pool=s.lp_pool)
        projector = projector_arrays(model, splits) if means.shape[1] > 2 else None
    return results_record(run_dir, restored, s, seeds, splits, metrics, clock, figures, generated, lp,
                          means.shape[1], post_hoc, projector)


def projector_arrays(model, splits) -> dict:
    """TensorBoard projector's arguments for latent sizes above 2 (``summaries.write_projector``):
    the codes of the first ``PROJECTOR_POINTS`` held-out examples, their labels and images."""
    from tf_dpvae import summaries

    shown_x = splits.validation[:summaries.PROJECTOR_POINTS]
    labels = splits.validation_labels
    return {"embeddings": summaries.projector_embeddings(model, shown_x),
            "labels": None if labels is None else np.asarray(labels)[:len(shown_x)],
            "class_names": splits.class_names, "images": shown_x if shown_x.ndim == 4 else None}


def frechet_stage(model, means, log_vars, train, held_out, s: EvalSettings, seeds: dict, fd: tuple,
                  inception, metrics: dict):
    """Prior samples, decoded, and the low-posterior selection (made even when the distance is
    skipped: the figures show the LP samples); their Fréchet distances to the held-out data on the
    feature network ``fd`` = (features, metric key, info) and on Inception-v3's when given, into
    ``metrics``. Returns (prior_z, generated, lp)."""
    features, fd_name, fd_info = fd
    prior_z = sampling.prior_draw(model, s.num_samples, seeds["prior_samples"])
    generated = sampling.decode(model, prior_z)
    lp = sampling.low_posterior_samples(model, means, log_vars, s.num_samples, s.lp_pool,
                                        seeds["lp_pool"], "log q(z) of LP pool")
    selection = {"generated": s.num_samples, "real_held_out": len(held_out), **lp.selection()}
    if features is not None:  # the network key is None for vector data: no network
        fd_info = {**fd_info, **frechet_metric(
            features, fd_info.get("classifier_weights_sha256"), generated, lp.decoded, held_out,
            train[:s.num_samples])}
    metrics[fd_name] = {**fd_info, **selection}
    if inception is not None:  # the same samples on Inception-v3 pool features
        inception_features, inception_metric, network = inception
        metrics[inception_metric] = {
            **frechet_metric(inception_features, inception_key(s.inception_weights), generated,
                             lp.decoded, held_out, train[:s.num_samples]),
            "inception_weights": os.path.abspath(s.inception_weights),
            "inception_network": network, **selection}
    return prior_z, generated, lp


def results_record(run_dir, restored, s: EvalSettings, seeds, splits, metrics, clock, figures,
                   generated, lp, latent_dim: int, post_hoc, projector=None) -> dict:
    """``evaluate_run``'s return value: metrics.json's dict, the figures, the decoded samples."""
    config, train, held_out = restored.config, splits.train, splits.validation
    shown = min(s.figure_samples, s.num_samples) if held_out.ndim == 4 else min(2000, s.num_samples)
    return {"metrics": {
        "run_dir": os.path.abspath(run_dir), "checkpoint": restored.checkpoint,
        "checkpoint_kind": restored.checkpoint_kind, "step": restored.step,
        "model": {"reg": config.objective.reg, "prior": config.prior.kind,
                  "latent_dim": latent_dim, "likelihood": config.model.likelihood,
                  "dataset": splits.name,
                  # the prior sampled and scored: the trained one, or the one fitted after training
                  "sampling_prior": restored.model.prior.kind, "post_hoc": post_hoc},
        "settings": {**dataclasses.asdict(s), "taus": list(s.taus)}, "seeds": seeds,
        "data": {"train": len(train), "held_out": len(held_out)},
        "metrics": metrics, "timings_seconds": clock.total(),
        "figures": sorted(f"{k}.png" for k in figures)}, "figures": figures,
        # "arrays": decoded samples (NumPy; low_posterior lowest q(z) first) for callers that draw their
        # own figures (reproduce table1); not written by write_results. figure_samples of each for
        # images, up to 2,000 for vector data (a scatter needs more)
        "arrays": {"random": generated[:shown], "low_posterior": lp.decoded[:shown]},
        # latent sizes above 2: write_projector's arguments (held-out codes, labels, images)
        "projector": projector}
