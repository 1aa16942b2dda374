"""What a sampling temperature below 1 buys, and what it costs (issue 22, item 3).

    python benchmarks/temperature.py RUN_DIR [RUN_DIR ...] [--temperatures 1 0.9 0.8 0.7 0.5]
                                     [--samples 5000] [--classifier DIR] [--nearest-k 5]
                                     [--seed 0] [--out FILE.md]

The serving signature (and ``model.sample``) draws z0 = T·ε, ε ~ N(0, I), and decodes g⁻¹(z0). A
temperature T < 1 keeps z0 away from the tails of N(0, I), so fewer samples come from the regions the
flow maps off the codes: precision and density rise. It also shrinks the part of the generation space
that is sampled, so recall and coverage fall and the Fréchet distance (which compares the spread of
the features, not only where they lie) can rise. That is a trade-off, not a fix: the prior itself is
unchanged, and so is its sKL.

For every run and temperature, on the same draws ε (one stateless seed) decoded at each T, against
the run's held-out data (the evaluation's reference set): the Fréchet distance on the feature network
of ``evaluate`` (the project's classifier for images; the data for vectors), improved precision and
recall and density and coverage (k = ``--nearest-k``) on the same features, and the largest ‖z‖ of
the draws against the largest ‖μ(x)‖ of the training codes. T = 1 reproduces the evaluation's
sampling distribution (its draws differ: another seed).
"""

from __future__ import annotations

import argparse
import os
import sys

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402


TEMPERATURES = (1.0, 0.9, 0.8, 0.7, 0.5)


def rows_of_run(run_dir, temperatures, samples, classifier_dir, nearest_k, seed):
    """One dict per temperature: T, fd, precision, recall, density, coverage, z_ratio."""
    import tensorflow as tf

    from tf_dpvae.evaluation import feature_networks, frechet, prdc, sampling
    from tf_dpvae.evaluation import run as eval_run

    restored = eval_run.restore_run(run_dir, "best")
    model, splits, config = restored.model, restored.splits, restored.config
    features, fd_name, info = feature_networks.resolve_features(splits.example_shape, classifier_dir,
                                                                config.data.dataset, run_dir)
    if features is None:
        raise SystemExit(f"{run_dir}: {info['reason']}; {info['enable']}")
    held_out = splits.validation
    real = np.asarray(features(held_out), np.float64)
    radii = prdc.knn_radii(real, nearest_k)
    codes, _ = sampling.encode(model, splits.train)
    top_code = float(np.linalg.norm(codes, axis=1).max())
    rows = []
    for t in temperatures:
        z, _ = model.prior.sample(samples, tf.constant([seed, 22], tf.int32), t)
        z = np.asarray(z)
        generated = sampling.decode(model, z)
        fake = np.asarray(features(generated), np.float64)
        scores = prdc.precision_recall_density_coverage(real, fake, nearest_k, radii)
        rows.append({"T": t, "fd": frechet.frechet_distance_of_samples(fake, real), **scores,
                     "z_ratio": float(np.linalg.norm(z, axis=1).max()) / max(top_code, 1e-12)})
    post_hoc = restored.post_hoc["settings"].sampler if restored.post_hoc else None
    label = (f"{config.objective.reg}-{config.prior.kind}"
             + (f" ({config.prior.coupling})" if config.prior.kind == "dp" else "")
             + (f" + post-hoc {post_hoc}" if post_hoc else ""))
    return label, restored.step, fd_name, rows


def render(results, stamp, samples, nearest_k) -> str:
    lines = [stamp, "", f"{samples} samples per temperature (the same ε at every T), k = {nearest_k}; "
             "FD and P/R/D/C on the evaluation's features against the held-out data; "
             "z ratio = max ‖g⁻¹(T·ε)‖ / max ‖μ(x)‖ over the training codes", "",
             "| run | step | T | FD | precision | recall | density | coverage | z ratio |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run_dir, (label, step, _, rows) in results.items():
        for r in rows:
            lines.append(f"| {label} `{os.path.basename(os.path.normpath(run_dir))}` | {step} | "
                         f"{r['T']:g} | {r['fd']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                         f"{r['density']:.3f} | {r['coverage']:.3f} | {r['z_ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--classifier", default=None, help="feature classifier directory "
                        "(default: the one evaluate finds for the run's data set)")
    parser.add_argument("--nearest-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    bad = [t for t in args.temperatures if not 0 < t <= 10]
    if bad:
        parser.error(f"--temperatures must lie in (0, 10], got {bad}")
    if args.samples <= args.nearest_k:
        parser.error(f"--samples must exceed --nearest-k ({args.nearest_k}), got {args.samples}")
    stamp = provenance.stamp()
    results = {run: rows_of_run(run, args.temperatures, args.samples, args.classifier,
                                args.nearest_k, args.seed) for run in args.runs}
    text = render(results, stamp, args.samples, args.nearest_k)
    provenance.print_table(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
