"""Command ``reproduce`` (``tf-dpvae reproduce table1``, ``python -m tf_dpvae.reproduce table1``)
reproduces the paper's Table 1 (see ``--help`` and ``tf_dpvae/table1.py``).

Thin by design: parse and validate the flags (a bad value exits with status 2 and one line on stderr,
before TensorFlow loads and before anything is written), then ``table1.reproduce_table1``. Exit
status 1 if a model failed (diverged, or could not be evaluated); the others are still tabulated.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from tf_dpvae.cli.parsing import (OneLineParser, guarded, out_dir_problem, path_tag, positive_int,
                                  seed_int)
from tf_dpvae.config import REGULARIZERS
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.reproduce"
# hidden flags (tests, smoke runs): protocol field they override
EVAL_OVERRIDES = ("num_samples", "lp_pool", "skl_samples", "is_samples", "nll_examples",
                  "classifier_epochs")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from tf_dpvae.table1 import PROTOCOLS

    p = OneLineParser(prog=prog, description="Reproduce a table of the dpVAE paper.")
    sub = p.add_subparsers(dest="target", required=True, metavar="{table1}")
    t = sub.add_parser(
        "table1", prog=f"{prog} table1",
        help="Table 1: generative metrics of every regularizer with the normal and the decoupled prior",
        description="Train every regularizer with the normal and the decoupled prior (identical "
        "settings inside a pair), evaluate each (Fréchet distance of random and low-posterior "
        "samples, sKL, IS-NLL, −ELBO, leakage score), and write table1.csv/.md/.json, leakage.png "
        "and samples_<reg>.png. Rerun the same command to resume: finished models are skipped.")
    t.add_argument("--dataset", default=None,
                   help="data set (default: the protocol's, fashion_mnist; MNIST is not available "
                   "offline here)")
    t.add_argument("--seeds", nargs="+", type=seed_int, default=[0, 1],
                   help="training seeds (default 0 1)")
    t.add_argument("--regs", nargs="+", choices=REGULARIZERS, default=list(REGULARIZERS),
                   metavar="REG", help=f"regularizers, of {', '.join(REGULARIZERS)} (default: all)")
    t.add_argument("--protocol", choices=sorted(PROTOCOLS), default="reduced",
                   help="reduced (default): 2,000 steps per model and smaller evaluation sizes, for "
                   "2 CPU cores; paper: the paper's sizes (100,000 steps, K = 21,000), for a GPU")
    t.add_argument("--out", default=None, help="output directory (default results/<dataset>); "
                   "rerun with the same one to resume")
    t.add_argument("--steps", type=positive_int, default=None,
                   help="training steps per model, overriding the protocol's (smoke runs)")
    t.add_argument("--inception-weights", default=None, metavar="FILE",
                   help="Inception-v3 weights file (keras.applications .h5) for the true FID as well "
                   "(image data); never downloaded")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    for name in EVAL_OVERRIDES:  # hidden: tiny evaluations for tests and smoke runs
        t.add_argument(f"--{name.replace('_', '-')}", type=positive_int, default=None,
                       help=argparse.SUPPRESS)
    return p


def request_from_args(args):
    """The ``table1.Request`` the flags describe; Table1Error (or ConfigError) if it is not valid."""
    from tf_dpvae import table1

    overrides = {}
    if args.dataset is not None:
        overrides["dataset"] = args.dataset
    if args.steps is not None:
        overrides["steps"] = args.steps
    for name in EVAL_OVERRIDES:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    protocol = dataclasses.replace(table1.PROTOCOLS[args.protocol], **overrides)
    out = args.out or os.path.join("results", path_tag(protocol.dataset))
    return table1.Request(protocol=protocol, regs=tuple(args.regs), seeds=tuple(args.seeds),
                          out=out, inception_weights=args.inception_weights, overrides=overrides)


def main(argv=None, prog: str = PROG) -> int:
    """Reproduce; 0 on success, 1 if a model failed, 2 for bad input (one line on stderr)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    prog = f"{parser.prog} {args.target}"
    return guarded(prog, lambda: reproduce(prog, args))


def reproduce(prog: str, args: argparse.Namespace) -> int:
    from tf_dpvae import table1

    problem = out_dir_problem(args.out)   # '' is an error, not the default; a file; unwritable
    if problem:
        raise table1.Table1Error(problem)
    request = request_from_args(args)
    problem = out_dir_problem(request.out)
    if problem:
        raise table1.Table1Error(problem)
    table1.check_paths(request)

    import_tensorflow_quietly()  # only once the arguments are known to be good
    from tqdm.auto import tqdm

    outcome = table1.reproduce_table1(request, log=tqdm.write, progress=not args.no_progress)
    paths = outcome["paths"]
    print(f"table:        {paths['md']}")
    print(f"              {paths['csv']}, {paths['json']}")
    if paths["figures"]:
        print(f"figures:      {', '.join(paths['figures'])}")
    print(f"log:          {paths['log']}")
    print(f"tensorboard:  tensorboard --logdir {request.runs_root} --host 127.0.0.1")
    if outcome["failed"]:
        print(f"{prog}: {len(outcome['failed'])} model(s) failed: {', '.join(outcome['failed'])} "
              f"(see the log); rerun to retry them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
