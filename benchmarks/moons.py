"""The paper's Figure 1 claim, measured: do samples of a regularized VAE fall off the data manifold,
and does the decoupled prior pull them back?

Trains β-VAE-H and FactorVAE with and without the decoupled prior on two moons, with identical
settings (the CLI defaults) and seeds, then draws 5,000 samples from each and measures, in the
standardized data space:
  * mean and 95th-percentile distance from a sample to its nearest training point;
  * the share of samples farther than THRESHOLD from every training point ("off-manifold");
  * the same mean distance for the 10% of samples whose codes have the lowest aggregate posterior
    q(z) (the paper's low-posterior samples, §4.1: the ones that fall into pockets).
For scale: the moons' own noise (σ = 0.05 before standardization) puts a fresh data point at a median
nearest-training-point distance printed in the table's last row.

    .venv/bin/python benchmarks/moons.py [--seeds 0 1 2 3 4] [--epochs 40] [--out /tmp/moons-bench]

Models already trained in ``--out`` are only measured (training resumes and finds nothing to do), and a
model that another invocation is training there (its run directory is locked) is waited for: several
invocations over the same ``--out``, with their seeds in different orders, share the training, and any
one of them prints the whole table.

Each model is the one ``train`` exports: the checkpoint with the lowest validation negative ELBO.
Prints one row per model and seed, then mean ± sd over seeds, with the date, commit and load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from tf_dpvae import data as data_lib  # noqa: E402
from tf_dpvae import locks  # noqa: E402
from tf_dpvae import training  # noqa: E402
from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density  # noqa: E402


THRESHOLD = 0.25  # standardized units; about 4× the data's own noise
NUM_SAMPLES = 5000
MODELS = [("β-VAE", "beta", "normal"), ("β-dpVAE", "beta", "dp"),
          ("FactorVAE", "factor", "normal"), ("Factor-dpVAE", "factor", "dp")]


def measure(model, train, seed):
    tree = cKDTree(train)
    drawn = model.sample(NUM_SAMPLES, tf.constant([seed, 99], tf.int32))
    distances, _ = tree.query(drawn["images"].numpy())
    mean, log_var = (t.numpy() for t in model.encode(train[:5000]))
    log_q = aggregate_posterior_log_density(drawn["z"].numpy(), mean, log_var)
    low = np.argsort(log_q)[: NUM_SAMPLES // 10]
    return {"mean": distances.mean(), "p95": np.percentile(distances, 95),
            "off": np.mean(distances > THRESHOLD), "low_q_mean": distances[low].mean()}


def fit_when_free(config, out, poll_seconds=10.0):
    """``training.fit``, waiting while another process holds the run directory's lock."""
    while True:
        try:
            return training.fit(config, out, verbose=0, log=lambda *_: None)
        except locks.RunLocked:
            time.sleep(poll_seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=RunConfig().train.epochs)
    parser.add_argument("--out", default="/tmp/tf_dpvae-moons-benchmark")
    args = parser.parse_args(argv)
    rows = {}
    for seed in args.seeds:
        for label, reg, prior in MODELS:
            config = RunConfig().replace(objective={"reg": reg}, prior={"kind": prior},
                                         train={"seed": seed, "epochs": args.epochs})
            out = os.path.join(args.out, f"{reg}-{prior}-seed{seed}")
            start = time.perf_counter()
            result = fit_when_free(config, out)
            splits = data_lib.load(config.data, seed)
            stats = measure(result.model, splits.train, seed)
            stats["seconds"] = time.perf_counter() - start
            stats["seed"], stats["step"] = seed, int(result.best_checkpoint.rsplit("-", 1)[-1])
            rows.setdefault(label, []).append(stats)
            print(f"  trained {label:13s} seed {seed}: {stats['seconds']:.0f} s, best step "
                  f"{stats['step']}, off-manifold {100 * stats['off']:.1f} %", file=sys.stderr)

    splits = data_lib.load(RunConfig().data, 0)
    fresh, _ = cKDTree(splits.train).query(splits.validation)
    print(f"\n{provenance.stamp()} (at the end).")
    print(f"Two moons, {args.epochs} epochs, {NUM_SAMPLES} samples per model; distances in "
          f"standardized units; off-manifold = farther than {THRESHOLD}; each model at its best "
          f"checkpoint (lowest validation negative ELBO).\n")
    print("| model | " + " | ".join(f"seed {s}" for s in args.seeds) + " | max |")
    print("|---|" + "---|" * (len(args.seeds) + 1))
    for label, stats in rows.items():
        shares = [100 * s["off"] for s in stats]
        print(f"| {label}: off-manifold % | " + " | ".join(f"{v:.1f}" for v in shares)
              + f" | {max(shares):.1f} |")
    print("\nmean ± sd over seeds\n")
    header = ("model", "mean NN dist", "p95 NN dist", "off-manifold %", "low-q(z) 10%: mean dist")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, stats in rows.items():
        def cell(key, scale=1.0, fmt="{:.3f}"):
            values = np.array([s[key] for s in stats]) * scale
            return f"{fmt.format(values.mean())} ± {fmt.format(values.std())}"
        print(f"| {label} | {cell('mean')} | {cell('p95')} | {cell('off', 100, '{:.1f}')} | "
              f"{cell('low_q_mean')} |")
    print(f"| held-out data points | {fresh.mean():.3f} | {np.percentile(fresh, 95):.3f} | "
          f"{100 * np.mean(fresh > THRESHOLD):.1f} | – |")


if __name__ == "__main__":
    main()
