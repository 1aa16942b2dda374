"""Why the decoupled prior's sKL can lose in Table 1: the two directions of the KL, and how much of
KL[p ‖ q] a few prior samples carry.

For every evaluated run of a Table 1 output directory, recomputes the sKL estimate exactly as
``evaluate`` did (same checkpoint, same seeds and sample sizes, read from the run's
``eval/metrics.json``) and prints, per model (mean over seeds):

  * KL[q ‖ p] and KL[p ‖ q], the two halves of sKL;
  * for KL[p ‖ q] = E_p[log p(z) − log q(z)]: the median log-ratio, the share of the sum carried by
    the largest 1 % of the 5,000 terms, and the mean without them;
  * the largest ‖z‖ among the prior samples (how far g⁻¹ carries the tails of N(0, I)).

    .venv/bin/python benchmarks/table1_skl.py [--out results/fashion_mnist] [--regs ...] [--seeds ...]
        [--write FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from tf_dpvae import runs  # noqa: E402
from tf_dpvae.evaluation import sampling  # noqa: E402
from tf_dpvae.evaluation.run import restore_run, skl_terms, symmetric_kl_metric  # noqa: E402
from tf_dpvae.experiments.protocol import model_name  # noqa: E402


def run_terms(run_dir):
    """The sKL terms of one evaluated run, recomputed by the evaluation's own function
    (``run.skl_terms``) with the seeds and sizes its metrics.json records."""
    with open(os.path.join(run_dir, runs.EVAL_DIR, runs.METRICS_FILE), encoding="utf-8") as f:
        recorded = json.load(f)
    settings, seeds = recorded["settings"], recorded["seeds"]
    restored = restore_run(run_dir, settings["checkpoint"])
    means, log_vars = sampling.encode(restored.model, restored.splits.train)
    terms = skl_terms(restored.model, means, log_vars, settings["skl_samples"], seeds)
    result = symmetric_kl_metric(terms)
    recorded_skl = recorded["metrics"]["symmetric_kl"]["skl"]
    if not np.isclose(result["skl"], recorded_skl, rtol=1e-3):
        raise SystemExit(f"{run_dir}: recomputed sKL {result['skl']:.4g} differs from the recorded "
                         f"{recorded_skl:.4g}; the run changed since its evaluation")
    result["max_norm_p"] = float(np.linalg.norm(terms.p_z, axis=1).max())
    result["max_norm_q"] = float(np.linalg.norm(terms.q_z, axis=1).max())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/fashion_mnist", help="a Table 1 output directory")
    parser.add_argument("--write", default=None, help="also write the table to this markdown file")
    parser.add_argument("--regs", nargs="+", default=None, help="only these regularizers")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="only these seeds")
    args = parser.parse_args(argv)
    runs_dir = os.path.join(args.out, "runs")
    names = sorted(d for d in os.listdir(runs_dir)
                   if os.path.exists(os.path.join(runs_dir, d, runs.EVAL_DIR, runs.METRICS_FILE))
                   and (args.regs is None or d.rsplit("-", 2)[0] in args.regs)
                   and (args.seeds is None or int(d.rsplit("seed", 1)[1]) in args.seeds))
    rows = {}
    for name in tqdm(names, desc="runs", unit="run"):
        reg, prior, _seed = name.rsplit("-", 2)
        rows.setdefault((reg, prior), []).append(run_terms(os.path.join(runs_dir, name)))
    columns = [("kl_qp", "KL[q‖p]"), ("kl_pq", "KL[p‖q]"), ("kl_pq_median", "median log p/q at z~p"),
               ("kl_pq_top_share", "top 1 % share of KL[p‖q]"), ("kl_pq_trimmed", "KL[p‖q] without top 1 %"),
               ("max_norm_p", "max ‖z‖, z~p"), ("max_norm_q", "max ‖z‖, z~q")]
    lines = [f"{provenance.stamp()} (at the end).", "",
             "sKL = KL[q‖p] + KL[p‖q], recomputed from each run's evaluation seeds; mean over seeds "
             "(n per row).", "",
             "| model | n | " + " | ".join(label for _, label in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    order = ["none", "beta", "betab", "tc", "factor", "info"]
    for (reg, prior), results in sorted(rows.items(), key=lambda kv: (order.index(kv[0][0])
                                                                       if kv[0][0] in order else 99,
                                                                       kv[0][1] != "normal")):
        cells = [f"{np.mean([r[key] for r in results]):.3g}" for key, _ in columns]
        lines.append(f"| {model_name(reg, prior)} | {len(results)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    provenance.print_table(text, args.write)


if __name__ == "__main__":
    main()
