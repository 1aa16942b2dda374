"""The console script ``tf-dpvae COMMAND [ARGS]``: one subcommand per command module.

``tf-dpvae train ...`` is ``python -m tf_dpvae.train ...``, and so on; ``tf-dpvae COMMAND --help``
shows the command's own flags. Only the chosen command's module is imported (``tune`` loads
TensorFlow at import; the others only once their arguments are known to be good).
"""

from __future__ import annotations

import importlib
import sys

from tf_dpvae.cli.parsing import OneLineParser, examples

PROG = "tf-dpvae"
# command -> what it does (its module is tf_dpvae.cli.<command>)
COMMANDS = {
    "train": "train a VAE, with or without the decoupled prior",
    "evaluate": "evaluate a trained run (Fréchet distances, sKL, IS-NLL, leakage, figures)",
    "export": "export a run as a versioned SavedModel for TF Serving",
    "tune": "hyperparameter search (keras-tuner)",
    "features": "train and cache the feature classifier of the offline Fréchet distance",
    "reproduce": "reproduce a table of the paper (table1)",
    "retrofit": "fit a prior (flow or Gaussian mixture) after training to a normal-prior run's codes",
}


def build_parser() -> OneLineParser:
    # the commands named from COMMANDS, so the description never lists fewer than there are
    p = OneLineParser(prog=PROG, description=f"Decoupled-prior VAEs: {', '.join(COMMANDS)}.",
                      epilog=f"'{PROG} COMMAND --help' shows a command's flags and examples.\n"
                      + examples(f"{PROG} train                          # Factor-dpVAE on two moons",
                                 f"{PROG} evaluate runs/factor-dp-moons-seed0",
                                 f"{PROG} export runs/factor-dp-moons-seed0",
                                 f"{PROG} reproduce table1 --protocol reduced"))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        # the command parses its own flags: everything after its name is handed to it untouched
        sub.add_parser(name, help=summary, add_help=False, prefix_chars="\0")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv[:1])   # usage, --help, or one line naming the accepted commands
        return 2
    command = importlib.import_module(f"tf_dpvae.cli.{argv[0]}")
    return command.main(argv[1:], prog=f"{PROG} {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
