"""The README's and the docs' moons figure: the default command's run figure, with its provenance.

    .venv/bin/python benchmarks/moons_figure.py [--out /tmp/tf_dpvae-moons-figure]

Runs ``tf-dpvae train --reg factor`` (the README's first command: Factor-dpVAE on two moons, every
other setting the default) into ``--out`` without the export, then copies the run's ``figure.png``
(the best checkpoint's samples over the data, q(z) in the representation space and the generation
space: the paper's Figs. 1 and 3) to ``results/moons/factor_dp_moons.png`` and writes the command,
date, commit and load above a caption in ``results/moons/figure.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the package

from provenance import ROOT, stamp  # noqa: E402  (benchmarks/, first on sys.path when run as a script)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="/tmp/tf_dpvae-moons-figure")
    args = p.parse_args(argv)
    from tf_dpvae import runs
    from tf_dpvae.cli import main as cli
    status = cli.main(["train", "--reg", "factor", "--out", args.out, "--no-export"])
    if status:
        return status
    target = os.path.join(ROOT, "results", "moons")
    os.makedirs(target, exist_ok=True)
    shutil.copyfile(os.path.join(args.out, "figure.png"), os.path.join(target, "factor_dp_moons.png"))
    with open(os.path.join(runs.checkpoint_dir(args.out, "best"), runs.BEST_RECORD)) as f:
        best = json.load(f)
    text = (f"{stamp()}\n\n`factor_dp_moons.png`: Factor-dpVAE on two moons, trained by the default command "
            f"`tf-dpvae train --reg factor` (here with `--out {args.out} --no-export`); the best checkpoint "
            f"(step {best.get('step')}, validation negative ELBO {best.get('val_nelbo', best.get('value'))}). "
            "Left: samples over the data, coloured by log p(z); middle: q(z) in the representation space z; "
            "right: the generation space z0 = g(z).\n")
    with open(os.path.join(target, "figure.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
