"""``python -m tf_dpvae.evaluate`` of an image run, end to end, this checkout against an older one.

    python benchmarks/evaluate_speed.py --old /tmp/old_eval --run-dir RUN --classifier DIR \\
        [--sizes default,table1] [--rounds 1] [--markdown results/performance/evaluate_speed.md]

``--old``: a checkout of the commit to compare with (``git worktree add --detach /tmp/old_eval
e375f87``). Each evaluation is a fresh process (imports, tracing, XLA compilation and writing
included), as a user runs it: the checkouts alternate within a round, and each cell is the median
wall time over rounds. Sizes: ``default`` is ``EvalSettings``'s defaults (10,000 samples, K = 1,000 on
1,000 examples); ``table1`` is the reduced Table 1 protocol's evaluation
(``experiments.protocol.REDUCED``), which evaluates every one of its 24 models so.

The new checkout's disk cache of the real images' features (``TF_DPVAE_CACHE_DIR``, here a fresh
temporary directory) is empty at the start: its first evaluation at each size is reported apart as
the one-time cost a fresh machine pays (it fills the cache), and the timed rounds read it, as every
later evaluation on a machine does. ``--train-classifier`` also times ``python -m tf_dpvae.features``
(the other one-time cost: the feature classifier, which evaluate needs for the Fréchet distance and
looks for in ``runs/features/<dataset>``) and uses the classifier it trains.

Every number of the two metrics.json files is compared (timings excluded): the table says how many
differ and the largest relative difference. Stage times are the last round's ``timings_seconds``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import provenance  # noqa: F401  (first: this checkout on sys.path, quiet TF, the commit)

ROOT = provenance.ROOT
STAGES = ("restore", "encode", "frechet", "sample_quality", "symmetric_kl", "leakage", "nll",
          "figures")


def sizes(name: str) -> dict:
    """The evaluate flags of a size name: {} for the defaults, the reduced Table 1 protocol's."""
    if name == "default":
        return {}
    if name == "table1":
        from tf_dpvae.experiments.protocol import REDUCED

        e = REDUCED.evaluation
        return {"num-samples": e.num_samples, "lp-pool": e.lp_pool, "skl-samples": e.skl_samples,
                "is-samples": e.is_samples, "nll-examples": e.nll_examples, "seed": e.seed,
                "nearest-k": e.nearest_k}
    raise SystemExit(f"--sizes takes default and/or table1, got {name!r}")


TIMING_KEYS = ("timings_seconds", "seconds")   # left out of the comparison: times differ by nature


def compare(old: dict, new: dict) -> str:
    """"N numbers, keys equal, D differ, largest relative difference X (key)"."""
    a, b = (provenance.flat_numbers(run["metrics"], skip=TIMING_KEYS) for run in (old, new))
    diffs = [(0.0 if a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k]))
              else abs(a[k] - b[k]) / max(abs(a[k]), 1e-300), k) for k in a if k in b]
    worst = max(diffs, default=(0.0, "-"))
    differ = sum(d > 0 for d, _ in diffs)
    return (f"{len(a)} numbers, keys {'equal' if set(a) == set(b) else 'DIFFER'}, {differ} differ; "
            f"largest relative difference {worst[0]:.2e}" + (f" ({worst[1]})" if differ else ""))


def evaluate(tree: str, run_dir: str, classifier: str, flags: dict, env: dict) -> tuple[float, dict]:
    """(wall seconds, metrics.json) of one ``python -m tf_dpvae.evaluate`` in ``tree``."""
    command = [sys.executable, "-m", "tf_dpvae.evaluate", run_dir, "--classifier", classifier,
               "--no-progress", *[f"--{k}={v}" for k, v in flags.items()]]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} in {tree} failed:\n{done.stderr[-2000:]}")
    with open(os.path.join(run_dir, "eval", "metrics.json")) as f:
        return seconds, json.load(f)


def stages(metrics: dict) -> str:
    t = metrics["timings_seconds"]
    return ", ".join(f"{k} {t[k]:.1f}" for k in STAGES if k in t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="checkout of the commit to compare with")
    p.add_argument("--run-dir", required=True, help="a trained image run (copied; not modified)")
    p.add_argument("--classifier", help="feature classifier directory (python -m tf_dpvae.features)")
    p.add_argument("--train-classifier", action="store_true",
                   help="time python -m tf_dpvae.features and use the classifier it trains")
    p.add_argument("--dataset", default="fashion_mnist", help="the classifier's data (--train-classifier)")
    p.add_argument("--sizes", default="default,table1")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--markdown", help="also write the table here (atomically)")
    args = p.parse_args(argv)
    if not args.classifier and not args.train_classifier:
        p.error("give --classifier DIR or --train-classifier")
    stamp = provenance.stamp(None if argv is None else [__file__, *argv])
    print(stamp, flush=True)
    work = tempfile.mkdtemp(prefix="evaluate_speed_")
    run_dir = os.path.join(work, "run")
    shutil.copytree(args.run_dir, run_dir, ignore=shutil.ignore_patterns("eval"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_DPVAE_CACHE_DIR")}
    env.update(TQDM_DISABLE="1", TF_CPP_MIN_LOG_LEVEL="3",
               TF_DPVAE_CACHE_DIR=os.path.join(work, "cache"))   # empty: a fresh machine's
    trees = {"new": ROOT, "old": os.path.abspath(args.old)}
    commits = {k: provenance.git_commit(t, short=True) for k, t in trees.items()}
    lines = ["# Evaluation time, this checkout against an older one", "", stamp, "",
             f"Checkouts: new = {provenance.COMMIT_AT_START}, old = {commits['old']}; run "
             f"{args.run_dir}; {args.rounds} round(s), checkouts alternating, medians over rounds; "
             "each evaluation a fresh `python -m tf_dpvae.evaluate` process.", ""]
    classifier = args.classifier
    if args.train_classifier:
        classifier = os.path.join(work, "features", args.dataset)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tf_dpvae.features", "--dataset", args.dataset,
                        "--out", classifier, "--no-progress"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        lines.append(f"One-time: the feature classifier (`python -m tf_dpvae.features --dataset "
                     f"{args.dataset}`) trained in {time.perf_counter() - start:.1f} s wall.")
        lines.append("")
    classifier = os.path.abspath(classifier)

    rows, notes = [], []
    for size in args.sizes.split(","):
        flags = sizes(size)
        # the new checkout's first evaluation fills its disk cache: a fresh machine's one-time cost
        cold, cold_metrics = evaluate(trees["new"], run_dir, classifier, flags, env)
        walls, metrics = {"old": [], "new": []}, {}
        for round_ in range(args.rounds):
            for variant in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                seconds, metrics[variant] = evaluate(trees[variant], run_dir, classifier, flags, env)
                walls[variant].append(seconds)
                print(f"{size} {variant}: {seconds:.1f} s ({stages(metrics[variant])})", flush=True)
        old, new = (statistics.median(walls[v]) for v in ("old", "new"))
        rows.append(f"| {size} | {old:.1f} | {new:.1f} | {new / old:.2f} | {cold:.1f} | "
                    f"{compare(metrics['old'], metrics['new'])} |")
        notes.append(f"- {size}: stages (s, last round): old {stages(metrics['old'])}; new "
                     f"{stages(metrics['new'])}; new, first evaluation (disk cache empty) "
                     f"{stages(cold_metrics)}. New first vs later evaluation: "
                     f"{compare(cold_metrics, metrics['new'])}.")
    load = os.getloadavg()[0]
    lines += ["| sizes | old: wall s | new: wall s | new / old | new, first evaluation on a machine: "
              "wall s | metrics.json, old vs new |", "|---|---:|---:|---:|---:|---|", *rows, "",
              *notes, "", f"1-minute load average at the end: {load:.1f} on {os.cpu_count()} cores. "
              "The old commit's `sample_quality` time is its z-space part only (its clock kept the "
              "last of the stage's two pieces); `total` is right in both."]
    provenance.print_table("\n".join(lines) + "\n", args.markdown)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
