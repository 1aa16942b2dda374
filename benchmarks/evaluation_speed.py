"""Where the time of one evaluation goes, stage by stage, at the sizes of a Table 1 reproduction.

    python benchmarks/evaluation_speed.py [--repeats 3] [--baseline REV] [--tiny-run | --run-dir DIR]

Builds the model a Fashion-MNIST run builds (``RunConfig`` with dataset fashion_mnist: the
``beta_mnist`` encoder/decoder, d = 2, the decoupled prior; untrained weights, since the time does not
depend on their values), loads the real data offline, and times each stage of ``evaluate_run`` the way
``tf_dpvae/evaluation/run.py`` computes it, at the table's sizes (defaults below): encoding the
training set, log q(z) of the LP pool, the sKL/leakage densities, decoding, the Fréchet features (an
untrained copy of the feature classifier), the IS-NLL, and the q(z) map of the figures.

``--baseline REV`` (default: the commit before the evaluation speed-ups) loads that revision's
``aggregate_posterior.py`` and ``importance_nll.py`` from git and times them too, interleaved with the
current ones in the same process (rounds alternate; stages whose code did not change run once per
round and count for both); each cell is the median wall (and CPU) time over rounds. Timings on a
shared 2-core machine drift: compare the columns of one run, not runs.

``--tiny-run`` trains a 20-step Fashion-MNIST run into a temporary directory (``python -m
tf_dpvae.train``), ``--run-dir DIR`` takes an existing run; then the full ``evaluate_run`` is timed at
the same sizes (with the untrained feature classifier, so the Fréchet distances are computed), current
and baseline modules in one process, and their metrics are compared, then once more with the real
images' features cached (``feature_networks.reference_features``: as in ``reproduce table1`` from its second
model on; its metrics must equal the uncached ones exactly); with ``--tiny-run`` also the
command line ``python -m tf_dpvae.evaluate`` end to end in fresh processes (imports, tracing, XLA
compilation and writing included), the current tree against the baseline's (``git archive``), with
their user and system CPU seconds and a comparison of the two metrics.json files.

The process uses TensorFlow's BFC allocator for CPU memory (``TF_CPU_ALLOCATOR_USE_BFC=true``), as
``python -m tf_dpvae.evaluate`` now sets; start it with ``TF_CPU_ALLOCATOR_USE_BFC=false`` to time
the default allocator (the baseline command line gets the environment the benchmark started with).
CPU seconds do not grow when other processes take the cores: on a shared machine they tell a slow
stage from a busy machine (2 cores give at most 2 CPU s per s).

Measured 2026-11-25 11:10-11:35 UTC, commit 7762a43, 2 shared AMD EPYC cores, load average 12.3 at
the start and 4.9 at the end (other jobs held the cores: walls are inflated and noisy; compare CPU
seconds and columns of this run), with

    nice -n 15 .venv/bin/python benchmarks/evaluation_speed.py --repeats 2 --tiny-run

which printed (baseline da33d37 = main before the speed-ups were merged; sizes: num_samples 5000,
lp_pool 5, skl_samples 5000, nll_examples 500, is_samples 100; TF_CPU_ALLOCATOR_USE_BFC=true in the
process, the baseline command line without it):

    | stage | before: wall s (CPU s) | after: wall s (CPU s) | before/after (wall) | share (after, wall) |
    |---|---|---|---|---|
    | encode training set (54,000) (unchanged code: one timing for both) | 23.33 (6.5) | 23.33 (6.5) | 1.0× | 31% |
    | log q(z) of LP pool (25,000 points) | 19.38 (12.0) | 10.39 (5.2) | 1.9× | 14% |
    | sKL/leakage densities (2 × 5,000) | 7.96 (7.1) | 7.60 (4.8) | 1.0× | 10% |
    | decoding (10,000) (unchanged code: one timing for both) | 1.60 (1.6) | 1.60 (1.6) | 1.0× | 2% |
    | Fréchet features (21,000 images) (unchanged code: one timing for both) | 22.55 (14.0) | 22.55 (14.0) | 1.0× | 30% |
    | IS-NLL (500 examples, K = 100) | 6.95 (6.9) | 6.82 (6.8) | 1.0× | 9% |
    | figures: q(z) map (150 × 150 points) | 9.57 (9.6) | 4.11 (4.1) | 2.3× | 5% |
    | **total** | **91.3** (58) | **76.4** (43) | 1.2× | 100% |

    full evaluate_run on /tmp/evaluation_speed_yak4euk4/run (median of 1):
      before: 71.5 s wall, 63.4 CPU s (last run's stages: restore 1.2, encode 6.6, frechet 36.1, symmetric_kl 6.4, leakage 0.7, nll 7.5, figures 12.9)
      after: 52.6 s wall, 48.5 CPU s (last run's stages: restore 1.1, encode 6.5, frechet 26.0, symmetric_kl 3.6, leakage 0.7, nll 8.0, figures 6.5)
      after, real-image features cached: 42.9 s wall, 40.4 CPU s (last run's stages: restore 1.2, encode 6.3, frechet 17.1, symmetric_kl 3.5, leakage 0.7, nll 6.8, figures 7.1)
      metrics: 179 numbers, keys equal: True; largest relative difference 5.50e-14 (symmetric_kl.kl_pq_trimmed)
      metrics, features cached vs computed: 179 numbers, keys equal: True; largest relative difference 0.00e+00 (symmetric_kl.skl_se)
    python -m tf_dpvae.evaluate, fresh processes (median of 1):
      before: 130.8 s wall, 78.4 s user + 49.9 s system CPU
      after: 67.6 s wall, 59.5 s user + 3.7 s system CPU
      metrics.json: 179 numbers, keys equal: True; largest relative difference 5.50e-14 (symmetric_kl.kl_pq_trimmed)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)

os.environ.setdefault("TQDM_DISABLE", "1")  # evaluate_run's progress bars
# every timed evaluation computes the real images' features: no disk cache (feature_networks);
# benchmarks/evaluate_speed.py times the command line with it
os.environ.setdefault("TF_DPVAE_CACHE_DIR", "off")
ALLOCATOR_FROM_USER = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC")
# What python -m tf_dpvae.evaluate sets (see tf_dpvae/evaluate.py); TF_CPU_ALLOCATOR_USE_BFC=false in
# the environment times TensorFlow's default CPU allocator instead.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
ROOT = provenance.ROOT

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_dpvae import data as data_lib  # noqa: E402
from tf_dpvae import divergences, runs  # noqa: E402
from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae import aggregate_posterior  # noqa: E402
from tf_dpvae.evaluation import classifier, feature_networks, frechet, importance_nll  # noqa: E402
from tf_dpvae.evaluation import run as run_lib  # noqa: E402
from tf_dpvae.evaluation import sampling  # noqa: E402
from tf_dpvae.model import build_model  # noqa: E402

BASELINE = "da33d37"  # main when the speed-ups were merged into it: everything else the same
MODULES = {"aggregate_posterior": "tf_dpvae/evaluation/aggregate_posterior.py",
           "importance_nll": "tf_dpvae/evaluation/importance_nll.py"}


def load_revision(rev, directory):
    """{name: module} of ``MODULES`` as they were at git revision ``rev`` (written into
    ``directory``: autograph reads a function's source file)."""
    modules = {}
    for name, path in MODULES.items():
        source = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{path}"], check=True,
                                capture_output=True, text=True).stdout
        filename = os.path.join(directory, f"baseline_{name}.py")
        with open(filename, "w") as f:
            f.write(source)
        spec = importlib.util.spec_from_file_location(f"baseline_{name}", filename)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def log_q_in_chunks(log_density, points, means, log_vars):
    """run.py's ``_log_q`` (chunks of 1,024 points), for either implementation."""
    return np.concatenate([log_density(points[s:s + 1024], means, log_vars)
                           for s in range(0, len(points), 1024)])


def make_stages(model, splits, features, args):
    """[(name, changed, fn(impl) -> None)], in evaluate_run's order; impl: {name: module}."""
    train, held_out = splits.train, splits.validation
    seed = args.seed
    state = {}

    def decode(z):
        return sampling.batched(lambda b: model.decode_mean(tf.constant(b, tf.float32)), z, 1024)

    def log_prior(z):
        return sampling.batched(lambda b: model.prior.log_prob(tf.constant(b, tf.float32)),
                                z).astype(np.float64)

    def log_prior_h(z):
        return sampling.batched(lambda b: divergences.standard_normal_log_density(
            model.prior.forward(tf.constant(b, tf.float32))[0]), z).astype(np.float64)

    def prior_draw(n, s):
        return model.prior.sample(n, tf.constant(s, tf.int32))[0].numpy().astype(np.float64)

    def encode(impl):
        encoded = [model.encode(train[i:i + 2048]) for i in range(0, len(train), 2048)]
        state["means"] = np.concatenate([m.numpy() for m, _ in encoded]).astype(np.float64)
        state["log_vars"] = np.concatenate([v.numpy() for _, v in encoded]).astype(np.float64)

    def lp_pool(impl):
        pool = prior_draw(args.lp_pool * args.num_samples, [seed, 2])
        log_q = log_q_in_chunks(impl["aggregate_posterior"].aggregate_posterior_log_density, pool,
                                state["means"], state["log_vars"])
        state["lp_z"] = pool[np.argsort(log_q, kind="stable")[:args.num_samples]]

    def densities(impl):
        log_density = impl["aggregate_posterior"].aggregate_posterior_log_density
        p_z = prior_draw(args.skl_samples, [seed, 3])
        q_z, _ = aggregate_posterior.sample_aggregate_posterior(
            state["means"], state["log_vars"], args.skl_samples, np.random.default_rng(seed * 10 + 4))
        for z in (p_z, q_z):
            log_q_in_chunks(log_density, z, state["means"], state["log_vars"])
            log_prior(z)
        log_prior_h(q_z)

    def decoding(impl):
        state["generated"] = decode(prior_draw(args.num_samples, [seed, 1]))
        state["lp_decoded"] = decode(state["lp_z"])

    def fd_features(impl):
        real = features(held_out)
        for images in (state["generated"], state["lp_decoded"], train[:args.num_samples]):
            frechet.frechet_distance_of_samples(features(images), real)

    def is_nll(impl):
        impl["importance_nll"].importance_sampled_nll(model, held_out[:args.nll_examples],
                                                      args.is_samples, seed + 6)

    def q_map(impl):  # plots.posterior_map_figure's 150 × 150 grid of log q(z)
        means = state["means"]
        lo, hi = np.percentile(means, 0.5, axis=0) - 1.0, np.percentile(means, 99.5, axis=0) + 1.0
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
        impl["aggregate_posterior"].aggregate_posterior_log_density(
            np.stack([gx.ravel(), gy.ravel()], 1), means, state["log_vars"])

    return [(f"encode training set ({len(train):,})", False, encode),
            (f"log q(z) of LP pool ({args.lp_pool * args.num_samples:,} points)", True, lp_pool),
            (f"sKL/leakage densities (2 × {args.skl_samples:,})", True, densities),
            (f"decoding ({2 * args.num_samples:,})", False, decoding),
            (f"Fréchet features ({len(held_out) + 3 * args.num_samples:,} images)", False,
             fd_features),
            (f"IS-NLL ({args.nll_examples} examples, K = {args.is_samples})", True, is_nll),
            ("figures: q(z) map (150 × 150 points)", True, q_map)]


def untrained_classifier(directory, input_shape, num_classes=10):
    keras_model = classifier.build_classifier(input_shape, num_classes)
    classifier.save_classifier(keras_model, directory, test_accuracy=0.0,
                               extra={"note": "untrained, for timing only"})
    return directory


def stage_table(stages, results, variants):
    """Markdown: stage, median wall (and CPU) seconds per variant, ratio, share of the last
    variant's total. results[variant][stage] = [(wall, cpu), ...]."""
    def median(variant, name, i):
        return statistics.median(pair[i] for pair in results[variant][name])

    wall = {v: [median(v, name, 0) for name, _, _ in stages] for v in variants}
    cpu = {v: [median(v, name, 1) for name, _, _ in stages] for v in variants}
    totals = {v: (sum(wall[v]), sum(cpu[v])) for v in variants}
    last, two = variants[-1], len(variants) == 2
    head = ("| stage | " + " | ".join(f"{v}: wall s (CPU s)" for v in variants)
            + (" | before/after (wall) |" if two else " |") + f" share ({last}, wall) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for i, (name, changed, _) in enumerate(stages):
        cells = " | ".join(f"{wall[v][i]:.2f} ({cpu[v][i]:.1f})" for v in variants)
        ratio = f" {wall[variants[0]][i] / wall[last][i]:.1f}× |" if two else ""
        mark = "" if changed else " (unchanged code: one timing for both)"
        lines.append(f"| {name}{mark} | {cells} |{ratio} {wall[last][i] / totals[last][0]:.0%} |")
    ratio = f" {totals[variants[0]][0] / totals[last][0]:.1f}× |" if two else ""
    lines.append("| **total** | " + " | ".join(f"**{totals[v][0]:.1f}** ({totals[v][1]:.0f})"
                                               for v in variants) + f" |{ratio} 100% |")
    return "\n".join(lines)


def full_evaluation(run_dir, settings, impls, repeats):
    """Time ``evaluate_run`` per variant (interleaved); the baseline swaps in its modules."""
    from tf_dpvae.evaluation import figures   # its q(z) map calls aggregate_posterior_log_density

    originals = (sampling.aggregate_posterior_log_density, figures.aggregate_posterior_log_density,
                 run_lib.importance_nll)
    times, metrics = {v: [] for v in impls}, {}
    cpu = {v: [] for v in impls}
    for repeat in range(repeats):
        for variant in (list(impls) if repeat % 2 == 0 else list(impls)[::-1]):
            impl = impls[variant]
            log_density = impl["aggregate_posterior"].aggregate_posterior_log_density
            sampling.aggregate_posterior_log_density = figures.aggregate_posterior_log_density = log_density
            run_lib.importance_nll = impl["importance_nll"]
            feature_networks._REFERENCE_FEATURES.clear()   # every timed evaluation computes them
            try:
                start, cpu_start = time.perf_counter(), time.process_time()
                result = run_lib.evaluate_run(run_dir, settings, log=lambda msg: None)
                times[variant].append(time.perf_counter() - start)
                cpu[variant].append(time.process_time() - cpu_start)
            finally:
                (sampling.aggregate_posterior_log_density, figures.aggregate_posterior_log_density,
                 run_lib.importance_nll) = originals
            metrics[variant] = result["metrics"]
    # as in reproduce table1 from its second model on: the real images' features already computed
    # (feature_networks.reference_features; the cache holds the last "after" evaluation's)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_lib.evaluate_run(run_dir, settings, log=lambda msg: None)
    times["after, real-image features cached"] = [time.perf_counter() - start]
    cpu["after, real-image features cached"] = [time.process_time() - cpu_start]
    metrics["after, real-image features cached"] = result["metrics"]
    return times, cpu, metrics


def command_line(run_dir, classifier_dir, args, workdir):
    """``python -m tf_dpvae.evaluate`` end to end in fresh processes (imports, tracing, compilation
    and writing included): the current tree and, unless --baseline none, the baseline's tree (``git
    archive``), alternating, in the environment the benchmark started with (the baseline's CLI does
    not choose the allocator; the current one does)."""
    trees = {"after": ROOT}
    if args.baseline != "none":
        trees["before"] = os.path.join(workdir, "baseline_tree")
        os.makedirs(trees["before"])
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", trees["before"]], input=archive, check=True)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if ALLOCATOR_FROM_USER is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = ALLOCATOR_FROM_USER
    env.pop("PYTHONPATH", None)  # each tree's own tf_dpvae (python -m puts the working directory first)
    command = [sys.executable, "-m", "tf_dpvae.evaluate", run_dir, "--classifier", classifier_dir,
               "--num-samples", str(args.num_samples), "--lp-pool", str(args.lp_pool),
               "--skl-samples", str(args.skl_samples), "--is-samples", str(args.is_samples),
               "--nll-examples", str(args.nll_examples), "--seed", str(args.seed)]
    results, written = {v: [] for v in trees}, {}
    for repeat in range(args.full_repeats):
        for variant in (sorted(trees) if repeat % 2 == 0 else sorted(trees, reverse=True)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, cwd=trees[variant], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            results[variant].append((seconds, after.ru_utime - before.ru_utime,
                                     after.ru_stime - before.ru_stime))
            with open(os.path.join(run_dir, runs.EVAL_DIR, runs.METRICS_FILE)) as f:
                written[variant] = json.load(f)["metrics"]
    print(f"python -m tf_dpvae.evaluate, fresh processes (median of {args.full_repeats}):")
    for variant in sorted(trees, reverse=True):
        wall, user, system = (statistics.median(r[i] for r in results[variant]) for i in range(3))
        print(f"  {variant}: {wall:.1f} s wall, {user:.1f} s user + {system:.1f} s system CPU")
    if len(written) == 2:
        compare_metrics(written["before"], written["after"], "metrics.json")


def compare_metrics(before, after, what):
    a, b = provenance.flat_numbers(before), provenance.flat_numbers(after)
    worst = max(((abs(a[k] - b[k]) / max(abs(a[k]), 1e-12), k) for k in a
                 if k in b and not (math.isnan(a[k]) and math.isnan(b[k]))), default=(0.0, None))
    print(f"  {what}: {len(a)} numbers, keys equal: {set(a) == set(b)}; largest relative difference "
          f"{worst[0]:.2e} ({worst[1]})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline", default=BASELINE,
                   help=f"git revision to compare with (default {BASELINE}); 'none' to skip")
    p.add_argument("--num-samples", type=int, default=5_000)
    p.add_argument("--lp-pool", type=int, default=5)
    p.add_argument("--skl-samples", type=int, default=5_000)
    p.add_argument("--nll-examples", type=int, default=500)
    p.add_argument("--is-samples", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-stages", action="store_true", help="only the full evaluation")
    run = p.add_mutually_exclusive_group()
    run.add_argument("--tiny-run", action="store_true",
                     help="train a 20-step fashion_mnist run and time the full evaluate_run on it")
    run.add_argument("--run-dir", help="time the full evaluate_run on this run directory")
    p.add_argument("--full-repeats", type=int, default=1)
    args = p.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="evaluation_speed_")
    impls = {}
    if args.baseline != "none":
        impls["before"] = load_revision(args.baseline, workdir)
    impls["after"] = {"aggregate_posterior": aggregate_posterior, "importance_nll": importance_nll}
    variants = list(impls)
    print(provenance.stamp(None if argv is None else [__file__, *argv]), flush=True)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; TF_CPU_ALLOCATOR_USE_BFC="
          f"{os.environ['TF_CPU_ALLOCATOR_USE_BFC']}; baseline {args.baseline}; "
          f"sizes: num_samples {args.num_samples}, lp_pool {args.lp_pool}, skl_samples "
          f"{args.skl_samples}, nll_examples {args.nll_examples}, is_samples {args.is_samples}",
          flush=True)
    config = RunConfig().replace(data={"dataset": "fashion_mnist"})
    splits = data_lib.load(config.data, config.train.seed)
    classifier_dir = untrained_classifier(os.path.join(workdir, "classifier"), splits.example_shape)

    if not args.no_stages:
        model = build_model(config, (None,) + splits.example_shape)
        features = classifier.feature_extractor(classifier.load_classifier(classifier_dir)[0])
        stages = make_stages(model, splits, features, args)
        results = {v: {name: [] for name, _, _ in stages} for v in variants}
        for round_ in range(args.repeats + 1):   # round 0 warms up (tracing, compilation)
            order = variants if round_ % 2 == 0 else variants[::-1]
            for name, changed, fn in stages:
                for variant in (order if changed else order[:1]):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    fn(impls[variant])
                    seconds = (time.perf_counter() - start, time.process_time() - cpu_start)
                    for v in (variants if not changed else [variant]):
                        if round_:
                            results[v][name].append(seconds)
            print(f"round {round_} done", flush=True)
        print()
        print(stage_table(stages, results, variants))
        print()

    run_dir = args.run_dir
    if args.tiny_run:
        run_dir = os.path.join(workdir, "run")
        subprocess.run([sys.executable, "-m", "tf_dpvae.train", "--dataset", "fashion_mnist",
                        "--steps", "20", "--epochs", "1", "--out", run_dir, "--no-export"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    if run_dir:
        settings = run_lib.EvalSettings(num_samples=args.num_samples, lp_pool=args.lp_pool,
                                        skl_samples=args.skl_samples, is_samples=args.is_samples,
                                        nll_examples=args.nll_examples, seed=args.seed,
                                        classifier_dir=classifier_dir)
        times, cpu, metrics = full_evaluation(run_dir, settings, impls, args.full_repeats)
        print(f"full evaluate_run on {run_dir} (median of {args.full_repeats}):")
        for variant in times:
            timings = metrics[variant]["timings_seconds"]
            print(f"  {variant}: {statistics.median(times[variant]):.1f} s wall, "
                  f"{statistics.median(cpu[variant]):.1f} CPU s (last run's stages: " + ", ".join(
                      f"{k} {v:.1f}" for k, v in timings.items() if k != "total") + ")")
        if len(variants) == 2:
            compare_metrics(metrics["before"]["metrics"], metrics["after"]["metrics"], "metrics")
        compare_metrics(metrics["after"]["metrics"],
                        metrics["after, real-image features cached"]["metrics"],
                        "metrics, features cached vs computed")
    if args.tiny_run:
        command_line(run_dir, classifier_dir, args, workdir)


if __name__ == "__main__":
    main()
