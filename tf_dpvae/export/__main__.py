"""Command line: ``python -m tf_dpvae.export RUN_DIR [--out saved_models/NAME] [--max-samples 10000]``.

Thin by design: validate the arguments (a bad one is one line on stderr and exit status 2, before
TensorFlow loads and before anything is written), call ``savedmodel.export_run``, print where the new
version went and how to serve it.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae.cli import OneLineParser
from tf_dpvae.export import (DEFAULT_MAX_SAMPLES, max_samples_problem, out_problem,
                             run_dir_problem)
from tf_dpvae.quiet import import_tensorflow_quietly


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m tf_dpvae.export",
                      description="Export a trained run's best (or latest) checkpoint as a versioned "
                                  "SavedModel for TF Serving: OUT/<next version>/.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by tf_dpvae.train")
    p.add_argument("--out", default=None, help="model base directory that holds the versions "
                   "(default: saved_models/<RUN_DIR's name>)")
    p.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                   help=f"largest num_samples one request may ask for (default {DEFAULT_MAX_SAMPLES})")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                   help="best (default): the epoch with the lowest validation negative ELBO; "
                        "latest: the last one saved (where training resumes)")
    return p


def validate(args) -> str | None:
    """The first problem with the arguments, as one line, or None (the library's own checks)."""
    return (max_samples_problem(args.max_samples) or run_dir_problem(args.run_dir)
            or (out_problem(args.out) if args.out is not None else None))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = validate(args)
    if problem:
        print(f"{parser.prog}: error: {problem}", file=sys.stderr)
        return 2

    import_tensorflow_quietly()
    from tf_dpvae.config import ConfigError  # TensorFlow loads only once the arguments are good
    from tf_dpvae.data import DataError
    from tf_dpvae.export import savedmodel

    try:
        result = savedmodel.export_run(args.run_dir, args.out, max_samples=args.max_samples,
                                       checkpoint=args.checkpoint)
    except (savedmodel.ExportError, ConfigError, DataError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    base = os.path.dirname(os.path.abspath(result.path))
    print(f"exported:   {result.path} (version {result.version}, {args.checkpoint} checkpoint, "
          f"training step {result.step})")
    print(f"signatures: {', '.join(savedmodel.SIGNATURE_NAMES)}")
    print(f"serve with: docker run --rm -p 8501:8501 -v {base}:/models/dpvae -e MODEL_NAME=dpvae "
          f"tensorflow/serving:2.20.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
