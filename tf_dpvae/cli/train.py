"""Command ``train`` (``tf-dpvae train``, ``python -m tf_dpvae.train``): ``--reg factor`` etc., see ``--help``.

Thin by design: parse, validate into a ``RunConfig`` (a bad value exits with status 2 and one line,
before anything is written; the flags are generated from the configuration
dataclasses by ``flags``), call ``training.fit``, print where everything went.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae.cli import flags
from tf_dpvae import runs  # no TensorFlow
from tf_dpvae.cli.parsing import (OneLineParser, add_progress_flag, examples, keras_verbose,
                                  out_dir_problem, progress_bars, run_command)
from tf_dpvae.config import ConfigError, RunConfig
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.train"

def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser: ``--config``, ``--out``, ``--no-export``, ``--no-progress``, and one flag per
    configuration field (``flags.add_config_flags``)."""
    p = OneLineParser(prog=prog, description="Train a regularized VAE, with or without the "
                      "decoupled prior.",
                      epilog=examples(f"{prog}                                # Factor-dpVAE on two moons",
                                      f"{prog} --reg beta --beta 4 --seed 1",
                                      f"{prog} --prior normal --dataset fashion_mnist --latent-dim 10",
                                      f"{prog} --dataset npz:points.npy --out runs/mine   # your "
                                      f"vectors [N, D] or images",
                                      f"{prog} --config runs/tune-x/best_config.json --epochs 40"))
    p.add_argument("--config", default=None, metavar="FILE",
                   help="start from this JSON configuration (a run's config.json, or best_config.json "
                   "from the tune command); flags given as well override its values")
    p.add_argument("--out", default=None, metavar="RUN_DIR", help="run directory; rerun with the "
                   "same one to resume (default: runs/<reg>-<prior>-<dataset>-seed<seed>)")
    p.add_argument("--no-export", dest="export", action="store_false", default=True,
                   help="skip the SavedModel export for TF Serving at the end (default: export to "
                   "saved_models/<run directory name>/<next version>)")
    add_progress_flag(p)
    flags.add_config_flags(p)
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The configuration: defaults, then the ``--config`` file if given, then the flags given."""
    return flags.config_from_args(args, args.config)


def main(argv=None, prog: str = PROG) -> int:
    """Train; 0 on success, 1 if training diverged or the export failed, 2 for bad input or a full
    disk, 130 / 143 after Ctrl-C / SIGTERM (a checkpoint saved at the step it arrived: rerun to
    resume)."""
    return run_command(build_parser(prog), argv, train)


def train(prog: str, args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config.train.strategy == "multiworker":
        from tf_dpvae.distribute import parse_tf_config  # no TensorFlow import
        parse_tf_config(os.environ.get("TF_CONFIG"))
    problem = out_dir_problem(args.out)
    if problem:
        raise ConfigError(problem)
    out = args.out or os.path.join("runs", runs.default_run_name(config))
    problem = out_dir_problem(out)
    if problem:
        raise ConfigError(problem)

    import_tensorflow_quietly()
    from tf_dpvae import training  # TensorFlow loads only once the arguments are known to be good

    try:
        with progress_bars(not args.no_progress):
            result = training.fit(config, out, verbose=keras_verbose(args.no_progress))
    except training.TrainingDiverged as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    print(f"\nrun directory:   {result.out_dir} (step {result.step}"
          f"{f', resumed from step {result.resumed_from}' if result.resumed_from else ''})")
    print(f"configuration:   {os.path.join(out, runs.CONFIG_FILE)}")
    print(f"checkpoint:      {result.checkpoint} (latest: training resumes here)")
    if result.best_checkpoint:
        print(f"best checkpoint: {result.best_checkpoint} (validation negative ELBO "
              f"{result.best_value:.4g}; export and evaluate use it)")
    if result.figure:
        print(f"figure:          {result.figure}")
    if result.final_logs:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.final_logs.items()))
        print(f"final metrics:   {shown}")
    print(f"inspect with:    tensorboard --logdir {os.path.join(out, runs.LOG_DIR)} --host 127.0.0.1")
    return export_after_training(prog, out) if args.export else 0


def export_after_training(prog: str, out: str) -> int:
    """The serving export of the finished run (issue 5); its failure leaves the run intact."""
    from tf_dpvae.export import savedmodel

    try:
        result = savedmodel.export_run(out, skip_if_exported=True)
    except Exception as err:  # noqa: BLE001 - reported in one line; training itself succeeded
        print(f"{prog}: export failed ({type(err).__name__}: {err}); the run is intact, retry with "
              f"tf-dpvae export {out}", file=sys.stderr)
        return 1
    print(f"saved model:     {result.path}"
          f"{' (unchanged since the last export)' if result.reused else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
