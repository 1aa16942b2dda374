"""Command ``retrofit`` (``tf-dpvae retrofit RUN``, ``python -m tf_dpvae.retrofit RUN``): ``--sampler
{flow,gmm} [--components K] [--steps N] [--out RUN2]``, see ``--help``.

Fits a prior to the codes of a trained normal-prior run, with its encoder and decoder frozen, and
writes a new run directory that ``evaluate``, ``export`` and TensorBoard read like any other
(``post_hoc.retrofit.retrofit_run``). Thin by design: the flags are generated from ``PostHocConfig``'s
field metadata (``flags``); a bad value exits with status 2 and one line, before TensorFlow loads
where it can be seen without it, and always before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys

from tf_dpvae import runs  # no TensorFlow
from tf_dpvae.cli import flags
from tf_dpvae.cli.parsing import OneLineParser, add_progress_flag, examples, out_dir_problem, progress_bars, run_command
from tf_dpvae.config import ConfigError
from tf_dpvae.post_hoc_config import BIC_GRID, PostHocConfig, RetrofitFlags
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.retrofit"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser: RUN_DIR, ``--out``, ``--no-progress``, and one flag per ``PostHocConfig`` field."""
    p = OneLineParser(prog=prog, description="Fit a prior after training to the codes z ~ q(z|x) of "
                      "a run trained with the normal prior (encoder and decoder frozen): the decoupled "
                      "prior's RealNVP chain by maximum likelihood (flow), or a Gaussian mixture "
                      "(gmm). Writes a new run directory for evaluate, export and TensorBoard.",
                      epilog=examples(f"{prog} runs/factor-normal-moons-seed0 --sampler flow",
                                      f"{prog} runs/RUN --sampler gmm              # K chosen by BIC",
                                      f"{prog} runs/RUN --sampler gmm --components 10 --out runs/RUN-gmm10"))
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by tf-dpvae train "
                   "with --prior normal")
    p.add_argument("--out", default=None, metavar="OUT_DIR", help="the new run directory; must not "
                   "hold a run yet (default: RUN_DIR-<sampler>, beside RUN_DIR)")
    add_progress_flag(p)
    flags.add_config_flags(p, config_cls=RetrofitFlags)
    sampler = next(a for a in p._actions if a.dest == "post_hoc.sampler")
    sampler.help = sampler.help.replace("(default: flow)", "(required)")
    return p


def settings_from_args(args: argparse.Namespace) -> PostHocConfig:
    """The ``PostHocConfig`` the flags describe; ConfigError naming the first bad value."""
    given = flags.given_flags(args).get("post_hoc", {})
    if "sampler" not in given:
        raise ConfigError("the following arguments are required: --sampler {flow,gmm}")
    if "components" in given:
        k = given["components"]
        if k <= 0:
            raise ConfigError(f"components must be a positive integer, got {k} (leave --components out "
                              f"to choose K by BIC over {', '.join(map(str, BIC_GRID))})")
        if given["sampler"] != "gmm":
            raise ConfigError(f"--components applies to --sampler gmm, got --components {k} with "
                              f"--sampler {given['sampler']}")
    return PostHocConfig(**given)


def main(argv=None, prog: str = PROG) -> int:
    """Retrofit; 0 on success, 2 for bad input (one line on stderr)."""
    return run_command(build_parser(prog), argv, lambda _, args: retrofit(args))


def retrofit(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    runs.require_run_dir(args.run_dir)   # before TensorFlow loads
    problem = out_dir_problem(args.out)
    if problem:
        raise ConfigError(problem)

    import_tensorflow_quietly()
    from tf_dpvae.post_hoc import retrofit as post_hoc  # TensorFlow loads once the arguments are good

    with progress_bars(not args.no_progress):
        result = post_hoc.retrofit_run(args.run_dir, settings, args.out,
                                       log=lambda msg: print(msg, file=sys.stderr),
                                       progress=not args.no_progress)
    fit, out = result.record["fit"], result.out_dir
    s = result.settings
    prior = (f"Gaussian mixture, K = {s.components} ({fit['selected_by']})" if s.sampler == "gmm"
             else f"decoupled prior (RealNVP), {s.steps} steps")
    print(f"run directory:  {out}")
    print(f"fitted prior:   {prior}, to {s.codes} of q(z|x) from {result.record['source']['checkpoint']}")
    print(f"held-out log p: {fit['held_out_mean_log_likelihood']:.4f} per code (N(0, I): "
          f"{fit['held_out_mean_log_likelihood_normal']:.4f})")
    print(f"evaluate with:  tf-dpvae evaluate {out}")
    print(f"export with:    tf-dpvae export {out}")
    print(f"inspect with:   tensorboard --logdir {os.path.join(out, runs.LOG_DIR)} --host 127.0.0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
