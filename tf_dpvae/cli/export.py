"""Command ``export`` (``tf-dpvae export RUN_DIR``, ``python -m tf_dpvae.export RUN_DIR``): ``[--out
saved_models/NAME] [--max-samples 10000]``.

Thin by design: validate the arguments (a bad one is one line on stderr and exit status 2, before
TensorFlow loads and before anything is written), call ``savedmodel.export_run``, print where the new
version went and how to serve it.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae import runs  # no TensorFlow
from tf_dpvae.cli.parsing import OneLineParser, RUN_DIR_HELP, examples, out_dir_problem, run_command
from tf_dpvae.config import CHECKPOINT_CHOICES, ConfigError
from tf_dpvae.export import DEFAULT_MAX_SAMPLES, max_samples_problem
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.export"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = OneLineParser(prog=prog,
                      description="Export a trained run's best (or latest) checkpoint as a versioned "
                                  "SavedModel for TF Serving: OUT/<next version>/. Its "
                                  "assets.extra/tf_dpvae_export.json says where it came from (no "
                                  "absolute paths) and, for vector data, how samples map to data units.",
                      epilog=examples(f"{prog} runs/factor-dp-moons-seed0",
                                      f"{prog} runs/RUN --out /srv/models/dpvae --max-samples 1000",
                                      f"{prog} runs/RUN --checkpoint latest"))
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--out", default=None, help="model base directory that holds the versions "
                   "(default: saved_models/<RUN_DIR's name>)")
    p.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                   help=f"largest num_samples one request may ask for (default: {DEFAULT_MAX_SAMPLES})")
    p.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="best",
                   help="best: the epoch with the lowest validation negative ELBO; latest: the last "
                        "one saved (where training resumes) (default: best)")
    return p


def validate(args) -> str | None:
    """The first problem with the arguments, as one line, or None (the library's own checks)."""
    return (max_samples_problem(args.max_samples) or runs.run_dir_problem(args.run_dir)
            or out_dir_problem(args.out))


def main(argv=None, prog: str = PROG) -> int:
    """Export; 0 on success, 2 for bad input (one line on stderr)."""
    return run_command(build_parser(prog), argv, lambda _, args: export(args))


def export(args: argparse.Namespace) -> int:
    problem = validate(args)
    if problem:
        raise ConfigError(problem)

    import_tensorflow_quietly()
    from tf_dpvae.export import savedmodel  # TensorFlow loads only once the arguments are good

    result = savedmodel.export_run(args.run_dir, args.out, max_samples=args.max_samples,
                                   checkpoint=args.checkpoint)
    base = os.path.dirname(os.path.abspath(result.path))
    print(f"exported:   {result.path} (version {result.version}, {args.checkpoint} checkpoint, "
          f"training step {result.step})")
    print(f"signatures: {', '.join(savedmodel.SIGNATURE_NAMES)}")
    print(f"serve with: docker run --rm -p 8501:8501 -v {base}:/models/dpvae -e MODEL_NAME=dpvae "
          f"tensorflow/serving:2.20.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
