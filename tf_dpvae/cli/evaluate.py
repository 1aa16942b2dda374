"""Command ``evaluate`` (``tf-dpvae evaluate RUN_DIR``, ``python -m tf_dpvae.evaluate RUN_DIR``), see ``--help``.

Thin by design: parse and validate the flags (a bad value exits with status 2 and one line, before
TensorFlow loads), restore and evaluate (``evaluation.run``), then write ``RUN_DIR/eval/`` and
``RUN_DIR/logs/run/eval``. Nothing is written unless every metric was computed.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae.cli import flags
from tf_dpvae.cli.parsing import OneLineParser, RUN_DIR_HELP, add_progress_flag, examples, progress_bars, run_command
from tf_dpvae import runs  # no TensorFlow
from tf_dpvae.evaluation.settings import EvalSettings, EvaluationError  # no TensorFlow
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.evaluate"

# evaluation.inception.KERAS_METRIC, not imported: TensorFlow loads only once the arguments are good
KERAS_INCEPTION = "frechet_distance_keras_inception"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser: ``RUN_DIR`` and one flag per field of ``EvalSettings`` (``flags.add_settings_flags``)."""
    p = OneLineParser(prog=prog,
                      description="Evaluate a trained run: Fréchet distance (random and low-posterior "
                      "samples), symmetric KL, importance-sampled NLL, leakage score, figures. Writes "
                      "RUN_DIR/eval/ (metrics.json and the figures) and its TensorBoard summaries.",
                      epilog=examples(f"{prog} runs/factor-dp-moons-seed0",
                                      f"{prog} runs/RUN --num-samples 2000 --is-samples 100   # quicker",
                                      f"{prog} runs/RUN --classifier runs/features/fashion_mnist",
                                      f"{prog} runs/RUN --inception-weights inception-2015-12-05.tgz"))
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    add_progress_flag(p)
    flags.add_settings_flags(p, EvalSettings)
    return p


def main(argv=None, prog: str = PROG) -> int:
    """Evaluate; 0 on success, 2 for bad input (one line on stderr)."""
    return run_command(build_parser(prog), argv, evaluate)


def evaluate(prog: str, args: argparse.Namespace) -> int:
    run_dir = args.run_dir
    runs.require_run_dir(run_dir)   # a RunError: guarded prints it as one line, exit status 2
    if args.inception_weights is not None and not os.path.isfile(args.inception_weights):
        raise EvaluationError(f"--inception-weights {args.inception_weights!r} is not a file")

    settings = EvalSettings(**flags.settings_values(EvalSettings, args))
    # Evaluation allocates and frees CPU tensors of tens to hundreds of MB (log q(z) blocks, decoder
    # and classifier activations). TensorFlow's default CPU allocator hands each back to the OS, and
    # the page faults of the next one cost a third of the CPU time (system time) and up to half the
    # wall time of a stage (benchmarks/evaluation_speed.py); the BFC allocator keeps and reuses them.
    # The numbers do not change. Set TF_CPU_ALLOCATOR_USE_BFC=false to opt out.
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    import_tensorflow_quietly()   # its native start-up lines would turn one error line into seven
    from tf_dpvae import locks
    # TensorFlow loads only once the arguments are known good
    from tf_dpvae.evaluation import publish, run

    with locks.hold(run_dir, "evaluate", log=lambda msg: print(msg, file=sys.stderr)), \
            progress_bars(not args.no_progress):
        results = run.evaluate_run(run_dir, settings, log=lambda msg: print(msg, file=sys.stderr))
        path = publish.write_results(run_dir, results)
    m = results["metrics"]
    print(summary(m))
    print(f"metrics:      {path}")
    print(f"figures:      {', '.join(os.path.join(run_dir, runs.EVAL_DIR, f) for f in m['figures'])}")
    print(f"tensorboard:  tensorboard --logdir {os.path.join(run_dir, runs.LOG_DIR)} --host 127.0.0.1")
    return 0


def summary(m) -> str:
    """A few lines of the headline numbers."""
    met = m["metrics"]
    fd_key = next(k for k in met if k.startswith("frechet_distance") and k != KERAS_INCEPTION)
    fd = met[fd_key]
    if fd.get("skipped"):
        fd_line = f"{fd_key}: skipped ({fd['reason']}); to enable: {fd['enable']}"
    else:
        fd_line = (f"{fd_key}: random {fd['random']:.4g}, low-posterior {fd['low_posterior']:.4g} "
                   f"(train vs held-out {fd['train_vs_held_out']:.4g})")
        if "classifier_test_accuracy" in fd:
            fd_line += (f"; classifier {fd['classifier_accuracy_split']} accuracy "
                        f"{fd['classifier_test_accuracy']:.4f}")
    lines = [fd_line]
    for key in ("fid", KERAS_INCEPTION):  # --inception-weights: one of the two
        if key in met:
            lines.append(f"{key}: random {met[key]['random']:.4g}, low-posterior "
                         f"{met[key]['low_posterior']:.4g} (train vs held-out "
                         f"{met[key]['train_vs_held_out']:.4g})")
    lines += [
        f"symmetric KL: {met['symmetric_kl']['skl']:.4g} ± {met['symmetric_kl']['skl_se']:.2g} "
        f"(KL[p‖q] {met['symmetric_kl']['kl_pq']:.4g}, KL[q‖p] {met['symmetric_kl']['kl_qp']:.4g})",
        f"NLL (IS, K={met['nll']['is_samples']}): {met['nll']['importance_sampled']:.4g}; "
        f"−ELBO {met['nll']['negative_elbo']:.4g}",
        "leakage LS(τ) eq. 6 as written (eq6_literal): " + ", ".join(
            f"{t:g}: {v:.3g}" for t, v in zip(met["leakage"]["eq6_literal"]["tau"],
                                               met["leakage"]["eq6_literal"]["leakage_score"])),
        *sample_quality_lines(met),
        f"wall time: {m['timings_seconds']['total']:.1f} s"]
    return "\n".join(lines)


def sample_quality_lines(met) -> list[str]:
    """One line per embedding of the sample metrics (precision, recall, density, coverage)."""
    lines = []
    for key in sorted(k for k in met if k.startswith("sample_quality_")):
        q = met[key]
        name = key.removeprefix("sample_quality_")
        if q.get("skipped"):
            lines.append(f"samples on {name}: skipped ({q['reason']})")
            continue
        lp = "lp_precision" in q   # the z-space variant has random prior samples only
        lines.append(f"samples on {name} (k={q['nearest_k']}): " + ", ".join(
            f"{m} {q[m]:.3f}" + (f"/{q['lp_' + m]:.3f}" if lp else "")
            for m in ("precision", "recall", "density", "coverage"))
            + (" (random/low-posterior)" if lp else " (prior samples)"))
    return lines


if __name__ == "__main__":
    sys.exit(main())

