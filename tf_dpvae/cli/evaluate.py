"""Command ``evaluate`` (``tf-dpvae evaluate RUN_DIR``, ``python -m tf_dpvae.evaluate RUN_DIR``), see ``--help``.

Thin by design: parse and validate the flags (a bad value exits with status 2 and one line, before
TensorFlow loads), restore and evaluate (``evaluation.run``), then write ``RUN_DIR/eval/`` and
``RUN_DIR/logs/eval``. Nothing is written unless every metric was computed.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae.cli.parsing import OneLineParser, guarded, positive_int, seed_int
from tf_dpvae.config import CHECKPOINT_CHOICES
from tf_dpvae.evaluation.disentanglement import METRICS as DISENTANGLEMENT_METRICS  # no TensorFlow
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.evaluate"

# evaluation.inception.KERAS_METRIC, not imported: TensorFlow loads only once the arguments are good
KERAS_INCEPTION = "frechet_distance_keras_inception"


def taus_list(text):
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    return values


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = OneLineParser(prog=prog,
                      description="Evaluate a trained run: Fréchet distance (random and low-posterior "
                      "samples), symmetric KL, importance-sampled NLL, leakage score, figures.")
    p.add_argument("run_dir", help="a run directory written by python -m tf_dpvae.train")
    p.add_argument("--num-samples", type=positive_int, default=10_000,
                   help="generated samples for the Fréchet distance, and LP samples kept (default 10000)")
    p.add_argument("--lp-pool", type=positive_int, default=5,
                   help="LP: rank LP_POOL x NUM_SAMPLES prior samples by q(z) (default 5)")
    p.add_argument("--skl-samples", type=positive_int, default=5_000,
                   help="samples per side for sKL and the leakage score (default 5000, as the paper)")
    p.add_argument("--is-samples", type=positive_int, default=1_000,
                   help="K, importance samples per example for the NLL (default 1000)")
    p.add_argument("--nll-examples", type=positive_int, default=1_000,
                   help="held-out examples for the NLL (default 1000)")
    p.add_argument("--taus", type=taus_list, default=None,
                   help="comma-separated thresholds τ on log p for the leakage score, written --taus=-50,-10 "
                   "(default -90,-70,-50,-30,-20,-10,-6,-4,-3,-2,-1)")
    p.add_argument("--seed", type=seed_int, default=0, help="evaluation seed (default 0)")
    p.add_argument("--disentanglement", nargs="+", choices=DISENTANGLEMENT_METRICS, default=[],
                   metavar="METRIC", help="data with ground-truth factors (dsprites_procedural, dsprites, "
                   f"shapes3d): also compute these of {', '.join(DISENTANGLEMENT_METRICS)} on the encoder "
                   "means (disentanglement_lib's protocols; dci at its default sizes takes minutes)")
    p.add_argument("--disentanglement-train", type=positive_int, default=10_000,
                   help="factor samples for MIG, DCI and SAP training (default 10000)")
    p.add_argument("--disentanglement-test", type=positive_int, default=5_000,
                   help="factor samples for DCI and SAP testing (default 5000)")
    p.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="best",
                   help="best (default): the epoch with the lowest validation negative ELBO; "
                        "latest: the last one saved")
    p.add_argument("--classifier", default=None,
                   help="image data: directory of the feature classifier (python -m tf_dpvae.features); "
                   "default: runs/features/<dataset> if it exists, else the image Fréchet distance "
                   "is skipped (and metrics.json says so)")
    p.add_argument("--inception-weights", default=None,
                   help="image data: the Inception network file, never downloaded. For the FID "
                   "(reported as \"fid\", comparable with published numbers): TF-FID's frozen graph "
                   "classify_image_graph_def.pb or the archive holding it, inception-2015-12-05.tgz "
                   "from http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz "
                   "(TTUR's protocol: 8-bit RGB in [0, 255] fed to ExpandDims:0, the graph resizes "
                   "bilinearly to 299x299; pool_3 features). A keras.applications.InceptionV3 .h5 "
                   "(e.g. the notop file) is accepted too, but is not the FID network: reported as "
                   "\"frechet_distance_keras_inception\". pytorch-fid's .pth is not supported")
    return p


def main(argv=None, prog: str = PROG) -> int:
    """Evaluate; 0 on success, 2 for bad input (one line on stderr)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    return guarded(parser.prog, lambda: evaluate(parser.prog, args))


def evaluate(prog: str, args: argparse.Namespace) -> int:
    run_dir = args.run_dir
    if not os.path.isdir(run_dir) or not os.path.isfile(os.path.join(run_dir, "config.json")):
        print(f"{prog}: error: {run_dir!r} is not a run directory (no config.json); give a directory "
              "written by python -m tf_dpvae.train", file=sys.stderr)
        return 2
    if args.inception_weights is not None and not os.path.isfile(args.inception_weights):
        print(f"{prog}: error: --inception-weights {args.inception_weights!r} is not a file",
              file=sys.stderr)
        return 2

    # Evaluation allocates and frees CPU tensors of tens to hundreds of MB (log q(z) blocks, decoder
    # and classifier activations). TensorFlow's default CPU allocator hands each back to the OS, and
    # the page faults of the next one cost a third of the CPU time (system time) and up to half the
    # wall time of a stage (benchmarks/evaluation_speed.py); the BFC allocator keeps and reuses them.
    # The numbers do not change. Set TF_CPU_ALLOCATOR_USE_BFC=false to opt out.
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    import_tensorflow_quietly()   # its native start-up lines would turn one error line into seven
    from tf_dpvae.evaluation import run  # TensorFlow loads only once the arguments are known good

    settings = run.EvalSettings(
        num_samples=args.num_samples, lp_pool=args.lp_pool, skl_samples=args.skl_samples,
        is_samples=args.is_samples, nll_examples=args.nll_examples, seed=args.seed,
        classifier_dir=args.classifier, inception_weights=args.inception_weights,
        checkpoint=args.checkpoint, disentanglement=tuple(args.disentanglement),
        disentanglement_train=args.disentanglement_train,
        disentanglement_test=args.disentanglement_test,
        **({"taus": args.taus} if args.taus else {}))
    from tf_dpvae import locks

    with locks.hold(run_dir, "evaluate", log=lambda msg: print(msg, file=sys.stderr)):
        results = run.evaluate_run(run_dir, settings, log=lambda msg: print(msg, file=sys.stderr))
        path = run.write_results(run_dir, results)
    m = results["metrics"]
    print(summary(m))
    print(f"metrics:      {path}")
    print(f"figures:      {', '.join(os.path.join(run_dir, 'eval', f) for f in m['figures'])}")
    print(f"tensorboard:  tensorboard --logdir {os.path.join(run_dir, 'logs')} --host 127.0.0.1")
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
        f"wall time: {m['timings_seconds']['total']:.1f} s"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

