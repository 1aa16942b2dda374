"""Publish an evaluation: ``eval/`` as one set, then its TensorBoard summaries.

``evaluation.run.evaluate_run`` computes everything in memory; ``write_results`` here writes it
(``eval/metrics.json``, ``eval/*.png``, the caller's extra files, and under ``logs/run/eval`` the
metrics as scalars, the leakage curves and the sample metrics as Markdown tables, the figures, and the
projector for latent sizes above 2). Kept apart from the computation so that a failure anywhere in
it leaves an earlier evaluation untouched: nothing here runs until every metric is in hand.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tf_dpvae import locks, plots, runs
from tf_dpvae.evaluation import leakage, prdc
from tf_dpvae.evaluation.figures import FIGURE_DESCRIPTIONS
from tf_dpvae.files import publish_dir, write_atomic


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def leakage_table(leak: dict) -> str:
    """The leakage curves as one Markdown table (TensorBoard's Text dashboard): a row per τ, the
    leakage score of each variant and the share of q(z) samples below τ, with what each variant
    computes and what the sign means."""
    variants = [v for v in leakage.VARIANTS if v in leak]
    headline = leak.get("headline", leakage.HEADLINE_VARIANT)
    if headline not in leak:
        return ""
    lines = ["| τ | " + " | ".join(f"LS {v}" + (" (headline)" if v == headline else "")
                                   for v in variants)
             + f" | share below τ ({headline}) |", "|---" * (len(variants) + 2) + "|"]
    for i, tau in enumerate(leak[headline]["tau"]):
        lines.append(f"| {tau:g} | " + " | ".join(_fmt(leak[v]["leakage_score"][i]) for v in variants)
                     + f" | {_fmt(leak[headline]['fraction_below'][i])} |")
    lines += ["", plots.LEAKAGE_SIGN + ".", ""]
    lines += [f"- **{v}**: {leakage.VARIANTS[v]}" for v in variants]
    if leak.get("variants_coincide"):
        lines.append("- this prior's base density is its full density: the variants coincide")
    return "\n".join(lines)


def sample_quality_table(metrics: dict) -> str:
    """The Fréchet distance beside precision, recall, density and coverage, one Markdown table: a row
    per (embedding, samples: random, low-posterior, real training data against the held-out set)."""
    rows = ["| embedding | samples | FD | precision | recall | density | coverage |",
            "|---|---|---|---|---|---|---|"]
    for group, values in metrics.items():
        if not group.startswith("sample_quality_") or values.get("skipped"):
            continue
        embedding = group[len("sample_quality_"):]
        fd = metrics.get(f"frechet_distance_{embedding}", {})
        reference = values.get("train_vs_held_out", {})
        for label, prefix, fd_key, source in (("random", "", "random", values),
                                              ("low-posterior", "lp_", "low_posterior", values),
                                              ("train vs held-out", "", "train_vs_held_out",
                                               reference)):
            if f"{prefix}precision" not in source:
                continue
            rows.append(f"| {embedding} | {label} | {_fmt(fd.get(fd_key))} | " + " | ".join(
                _fmt(source.get(f"{prefix}{k}")) for k in prdc.METRICS) + " |")
    if len(rows) == 2:
        return ""
    return "\n".join(rows + ["", "Precision and density: how much of the samples lies on the data "
                                  "(k-NN balls of the held-out data); recall and coverage: how much of "
                                  "the data the samples reach. FD: Fréchet distance, lower is better; "
                                  "the train vs held-out row is what real data scores at these sizes."])


def write_results(run_dir: str, results: dict, extra_files: dict | None = None) -> str:
    """Write ``eval/`` as one set, then the TensorBoard summaries under ``logs/run/eval``
    (``summaries.EVAL_DIR``, under the HParams session's run so that its metrics reach the session):
    the scalars of metrics.json, ``evaluation/leakage`` and ``evaluation/sample_quality`` as tables,
    the figures with descriptions, and the projector for latent sizes above 2.

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
        write_atomic(os.path.join(directory, runs.METRICS_FILE), json.dumps(m, indent=2, sort_keys=True))

    with locks.hold(run_dir, "evaluate"):
        out = publish_dir(os.path.join(run_dir, runs.EVAL_DIR), fill)
        step = max(m["step"], 0)
        from tf_dpvae import summaries

        directory = os.path.join(run_dir, runs.LOG_DIR, summaries.EVAL_DIR)
        writer = tf.summary.create_file_writer(directory)
        with writer.as_default(step=step):
            for group, values in m["metrics"].items():
                for key, value in values.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in (
                            "generated", "real_held_out", "lp_kept", "lp_pool", "samples_per_side", "nearest_k",
                            "examples", "is_samples", "q_samples"):
                        tf.summary.scalar(f"{group}/{key}", value)
            # the leakage curves as one table and one figure ("leakage"), not a scalar per τ
            for name, table in (("leakage", leakage_table(m["metrics"].get("leakage", {}))),
                                ("sample_quality", sample_quality_table(m["metrics"]))):
                if table:
                    tf.summary.text(f"evaluation/{name}", table)
            for name, png in results["figures"].items():
                tf.summary.image(name, tf.image.decode_png(png, channels=4)[None],
                                 description=FIGURE_DESCRIPTIONS.get(name, ""))
        writer.flush()
        writer.close()
        if results.get("projector"):
            p = results["projector"]
            summaries.write_projector(directory, p["embeddings"], p["labels"], p["class_names"],
                                      p["images"])
    return os.path.join(out, runs.METRICS_FILE)
