"""How long the procedural dSprites renderer and the four disentanglement metrics take at
disentanglement_lib's default sizes (issue 13), with the representation a fixed random projection of
the image to 10 codes (so the time is the metric's own: rendering, sampling, classifiers; a real
encoder adds its forward passes on the same numbers of images).

Prints wall and CPU (process) seconds per step; on these shared 2-core machines compare CPU seconds.

    nice -n 15 .venv/bin/python benchmarks/disentanglement_speed.py [--size 64] [--only render,mig,...]

Measured 2026-11-25 (commit 84e1484, 2 shared AMD EPYC cores, load average ~10; CPU seconds):
render 20,000 images 1.2 s at 64x64, 0.2 s at 32x32; MIG 0.2 s; SAP (discrete) 1.7 s;
FactorVAE score 44.6 s (970,000 images rendered and projected); DCI 449.6 s (the gradient-boosted
trees: one per class per stage, 40 orientation and 32 + 32 position classes).
"""
import argparse
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402

from tf_dpvae.datasets import dsprites  # noqa: E402
from tf_dpvae.evaluation.disentanglement import dci, factor_vae, mig, sap  # noqa: E402
from tf_dpvae.evaluation.disentanglement.factor_codes import sample_codes  # noqa: E402


def timed(label, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{label:<48s} wall {time.perf_counter() - wall:8.1f} s   cpu {time.process_time() - cpu:8.1f} s",
          flush=True)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--only", default="render,mig,factor_vae,dci,sap")
    args = p.parse_args()
    only = args.only.split(",")
    source = dsprites.ProceduralDSprites(args.size)
    projection = (np.random.default_rng(0).normal(size=(args.size * args.size, 10)) / args.size).astype(np.float32)

    def represent(images):
        return images.reshape(len(images), -1) @ projection

    if "render" in only:
        factors = dsprites.sample_factor_indices(20_000, 0)
        for size in (64, 32):
            timed(f"render 20,000 images at {size}x{size}", lambda: dsprites.render(factors, size))
    rng = np.random.default_rng(0)
    train = timed(f"sample+render+represent 10,000 ({args.size}px)",
                  lambda: sample_codes(source, represent, 10_000, rng))
    test = timed(f"sample+render+represent 5,000 ({args.size}px)",
                 lambda: sample_codes(source, represent, 5_000, rng))
    if "mig" in only:
        out = timed("MIG (10,000; 20 bins)", lambda: mig.mutual_information_gap(*train))
        print("   mig", round(out["mig"], 4))
    if "sap" in only:
        out = timed("SAP discrete (10,000 / 5,000; LinearSVC)", lambda: sap.sap(*train, *test))
        print("   sap", round(out["sap"], 4))
    if "dci" in only:
        out = timed("DCI (10,000 / 5,000; GradientBoostingClassifier)",
                    lambda: dci.dci(*train, *test))
        print("   dci", {k: round(v, 4) for k, v in out.items() if k != "importance"})
    if "factor_vae" in only:
        out = timed(f"FactorVAE score (64 x (10,000 + 5,000) + 10,000 images, {args.size}px)",
                    lambda: factor_vae.compute_factor_vae(source, represent))
        print("   factor_vae_score", round(out["factor_vae_score"], 4))
    print(f"\n{provenance.stamp()} (at the end).")


if __name__ == "__main__":
    main()
