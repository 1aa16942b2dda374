"""One moons model and seed under several training variants: which change of settings moves the
off-manifold share? (The investigation behind the defaults; ``moons.py`` measures the defaults.)

Each variant is a name and a JSON object of configuration changes by section, applied to the CLI
defaults; the model is trained into ``OUT/<variant>-seed<k>`` (rerun to resume) and measured exactly as
``moons.py`` does (5,000 samples at the best checkpoint; off-manifold = farther than 0.25).

    .venv/bin/python benchmarks/moons_variants.py --reg factor --prior dp --seeds 3 \\
        --variant default '{}' --variant lr5e-4 '{"train": {"lr": 5e-4}}' \\
        --variant reg-warmup-500 '{"objective": {"reg_warmup_steps": 500}}' [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
from tf_dpvae import data as data_lib  # noqa: E402
from tf_dpvae import runs, training  # noqa: E402
from tf_dpvae.config import RunConfig  # noqa: E402

import moons  # noqa: E402  (benchmarks/, first on sys.path when run as a script)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reg", default="factor")
    parser.add_argument("--prior", default="dp")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3])
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--out", default="/tmp/tf_dpvae-moons-variants")
    args = parser.parse_args(argv)
    rows = []
    for name, changes in args.variant:
        sections = json.loads(changes)
        for seed in args.seeds:
            config = RunConfig().replace(objective={"reg": args.reg}, prior={"kind": args.prior},
                                         train={"seed": seed})
            config = config.replace(**sections)
            start = time.perf_counter()
            result = training.fit(config, os.path.join(args.out, f"{name}-seed{seed}"), verbose=0,
                                  log=lambda *_: None)
            stats = moons.measure(result.model, data_lib.load(config.data, seed).train, seed)
            with open(os.path.join(runs.checkpoint_dir(result.out_dir, "best"), runs.BEST_RECORD),
                      encoding="utf-8") as f:
                best = json.load(f)
            rows.append((name, seed, stats, best, time.perf_counter() - start))
            print(f"  {name} seed {seed}: off-manifold {100 * stats['off']:.1f} %", file=sys.stderr)
    print(f"\n{provenance.stamp()} (at the end).\n")
    print(f"{args.reg}, prior {args.prior}; each model at its best checkpoint.\n")
    print("| variant | changes | seed | off-manifold % | mean NN dist | best step | best val −ELBO | s |")
    print("|---|---|---|---|---|---|---|---|")
    changes = dict(args.variant)
    for name, seed, stats, best, seconds in rows:
        print(f"| {name} | `{changes[name]}` | {seed} | {100 * stats['off']:.1f} | {stats['mean']:.3f} "
              f"| {best['step']} | {best['val_nelbo']:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
