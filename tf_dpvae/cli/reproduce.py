"""Command ``reproduce`` (``tf-dpvae reproduce table1``, ``python -m tf_dpvae.reproduce table1``)
reproduces the paper's Table 1 (see ``--help`` and ``tf_dpvae/experiments/table1.py``).

Thin by design: parse and validate the flags (a bad value exits with status 2 and one line on stderr,
before TensorFlow loads and before anything is written), then ``table1.reproduce_table1`` (or
``table1.tabulate`` for ``--table-only``). Exit status 1 if a model failed (diverged, or could not be
evaluated); the others are still tabulated.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from tf_dpvae.cli import flags
from tf_dpvae.cli.parsing import (PROGRESS_HELP, OneLineParser, examples, guarded, out_dir_problem,
                                  path_tag, progress_bars)
from tf_dpvae.config import REGULARIZERS, flag
from tf_dpvae.quiet import import_tensorflow_quietly
from tf_dpvae.experiments.protocol import PROTOCOLS, Table1Error  # no TensorFlow

PROG = "python -m tf_dpvae.reproduce"


def _override(help_text):
    """A hidden flag (tests, smoke runs) that overrides the protocol field of the same name."""
    return flag(None, help_text, parse="positive_int", hidden=True)


@dataclasses.dataclass(frozen=True)
class Table1Settings:
    """What ``reproduce table1`` runs: the flags of the ``table1`` subcommand, one per field."""

    dataset: str | None = flag(None, "data set (default: the protocol's, fashion_mnist; MNIST is not "
                               "available offline here)")
    seeds: tuple = flag((0, 1), "training seeds", parse="seed", nargs="+")
    regs: tuple = flag(REGULARIZERS, f"regularizers, of {', '.join(REGULARIZERS)}",
                       choices=REGULARIZERS, nargs="+", metavar="REG")
    protocol: str = flag("reduced", "reduced: 1,080 steps per model and smaller evaluation sizes, "
                         "for 2 CPU cores; paper: the paper's sizes (100,000 steps, K = 21,000), for "
                         "a GPU", choices=tuple(sorted(PROTOCOLS)))
    latent_dim: int | None = flag(None, "latent size L of every model (default: the protocol's, 2)",
                                  parse="positive_int")
    set_values: tuple = flag((), "any other configuration setting of both models of every pair, as "
                             "SECTION.FIELD=VALUE (e.g. prior.num_blocks=8 objective.beta=4); recorded "
                             "in table1.json and the title", name="set", parse="assignment", nargs="+",
                             metavar="SECTION.FIELD=VALUE")
    out: str | None = flag(None, "output directory; rerun with the same one to resume; one made with "
                           "other settings is refused (default: results/<dataset>, with _d<L> and each "
                           "--set appended when given)")
    steps: int | None = flag(None, "training steps per model, overriding the protocol's (smoke runs)",
                             parse="positive_int")
    inception_weights: str | None = flag(None, "image data: the Inception network file, as "
                                         "evaluate's --inception-weights takes it (never downloaded): "
                                         "TF-FID's inception-2015-12-05.tgz or its "
                                         "classify_image_graph_def.pb gives the FID; a "
                                         "keras.applications InceptionV3 .h5 is not the FID network "
                                         "and is reported as frechet_distance_keras_inception",
                                         metavar="FILE")
    no_post_hoc: bool = flag(False, "leave out the rows of the priors fitted after training (normal "
                             "prior + retrofit flow, normal prior + ex-post GMM): only the normal/dp pairs")
    no_progress: bool = flag(False, PROGRESS_HELP)
    table_only: bool = flag(False, "rewrite the tables and figures from the runs already in --out; "
                            "train, fit and evaluate nothing")
    num_samples: int | None = _override("generated samples for FD; LP samples kept")
    lp_pool: int | None = _override("LP pool factor")
    skl_samples: int | None = _override("sKL samples per side")
    is_samples: int | None = _override("K of the IS-NLL")
    nll_examples: int | None = _override("held-out examples for the NLL")
    classifier_epochs: int | None = _override("feature classifier epochs")
    post_hoc_steps: int | None = _override("Adam steps of the retrofit flow's fit")


# hidden flags (tests, smoke runs): protocol field they override
EVAL_OVERRIDES = tuple(f.name for f in dataclasses.fields(Table1Settings) if f.metadata.get("hidden"))


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser: the ``table1`` subcommand with one flag per field of ``Table1Settings``."""
    p = OneLineParser(prog=prog, description="Reproduce a table of the dpVAE paper.",
                      epilog=examples(f"{prog} table1 --protocol reduced"))
    sub = p.add_subparsers(dest="target", required=True, metavar="{table1}")
    t = sub.add_parser(
        "table1", prog=f"{prog} table1",
        help="Table 1: generative metrics of every regularizer with the normal and the decoupled prior",
        description="Train every regularizer with the normal and the decoupled prior (identical "
        "settings inside a pair), evaluate each (Fréchet distance of random and low-posterior "
        "samples, sKL, IS-NLL, −ELBO, leakage score), and write table1.csv/.md/.json, leakage.png "
        "and samples_<reg>.png. Beside each pair, two priors fitted after training to the "
        "normal-prior model's codes (retrofit flow, ex-post GMM; see tf-dpvae retrofit). "
        "Rerun the same command to resume: finished models are skipped.",
        epilog=examples(f"{prog} table1                                  # reduced protocol, 2 seeds",
                        f"{prog} table1 --regs beta factor --seeds 0",
                        f"{prog} table1 --latent-dim 10 --set prior.coupling=affine",
                        f"{prog} table1 --protocol paper                 # the paper's sizes, a GPU",
                        f"{prog} table1 --table-only                     # redraw from the runs"))
    flags.add_settings_flags(t, Table1Settings)
    return p


def request_from_args(args):
    """The ``table1.Request`` the flags describe; Table1Error (or ConfigError) if it is not valid."""
    from tf_dpvae.experiments import protocol as protocols
    from tf_dpvae.experiments.request import Request

    args = Table1Settings(**flags.settings_values(Table1Settings, args))
    overrides = {}
    if args.dataset is not None:
        overrides["dataset"] = args.dataset
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.latent_dim is not None:
        overrides["latent_dim"] = args.latent_dim
    if args.set_values:
        overrides["config_overrides"] = tuple(args.set_values)
    for name in EVAL_OVERRIDES:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    protocol = protocols.PROTOCOLS[args.protocol].replace(**overrides)
    out = args.out or os.path.join("results", default_table_name(protocol))
    return Request(protocol=protocol, regs=tuple(args.regs), seeds=tuple(args.seeds),
                          out=out, inception_weights=args.inception_weights, overrides=overrides,
                          post_hoc=not args.no_post_hoc)


def default_table_name(protocol) -> str:
    """results/<name>: the data set, then ``_d<L>`` for a latent size other than the paper's 2 and
    ``_<field>-<value>`` for each configuration override, as one safe path component."""
    name = protocol.dataset + (f"_d{protocol.latent_dim}" if protocol.latent_dim != 2 else "")
    name += "".join(f"_{key.split('.', 1)[1]}-{value}" for key, value in protocol.config_overrides)
    return path_tag(name)


def main(argv=None, prog: str = PROG) -> int:
    """Reproduce; 0 on success, 1 if a model failed, 2 for bad input (one line on stderr)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    prog = f"{parser.prog} {args.target}"
    return guarded(prog, lambda: reproduce(prog, args))


def reproduce(prog: str, args: argparse.Namespace) -> int:
    from tf_dpvae.experiments import table1
    from tf_dpvae.experiments.request import check_paths

    problem = out_dir_problem(args.out)   # '' is an error, not the default; a file; unwritable
    if problem:
        raise Table1Error(problem)
    request = request_from_args(args)
    problem = out_dir_problem(request.out)
    if problem:
        raise Table1Error(problem)
    check_paths(request)
    if args.table_only:
        return tabulate_only(request)

    import_tensorflow_quietly()  # only once the arguments are known to be good
    from tqdm.auto import tqdm

    with progress_bars(not args.no_progress):
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


def tabulate_only(request) -> int:
    """``--table-only``: the tables and figures of the runs in ``request.out``, nothing trained."""
    from tf_dpvae.experiments import table1

    if not os.path.isdir(request.runs_root):
        raise Table1Error(f"--table-only: {request.runs_root!r} holds no runs; run the table first")
    import_tensorflow_quietly()   # reading checkpoints' state and drawing the figures load it
    outcome = table1.tabulate(request)
    paths = outcome["paths"]
    print(f"table:        {paths['md']} ({outcome['evaluated']} of {outcome['models']} models "
          f"evaluated)")
    print(f"              {paths['csv']}, {paths['json']}")
    if paths["figures"]:
        print(f"figures:      {', '.join(paths['figures'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
