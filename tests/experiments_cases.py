"""Fabricated Table 1 run directories for the tests of ``tf_dpvae.experiments``: metrics.json,
samples, timing and checkpoint state, no training."""

import json
import os

import numpy as np

from tf_dpvae.experiments.protocol import REDUCED
from tf_dpvae.experiments.request import Request
from tf_dpvae.experiments.results import save_samples, write_timing

TAUS = [-10.0, -4.0, -1.0]


def fake_metrics(step, sizes, fd, lp, skl, nll, leak, variant="eq6", fd_key="frechet_distance_data",
                 fid=None):
    met = {fd_key: {"random": fd, "low_posterior": lp},
           "symmetric_kl": {"skl": skl}, "nll": {"importance_sampled": nll, "negative_elbo": nll + 2},
           "leakage": {variant: {"tau": TAUS, "leakage_score": leak}}}
    if fid is not None:
        met["fid"] = {"random": fid, "low_posterior": fid + 1}
    return {"step": step, "settings": {**sizes, "taus": TAUS}, "metrics": met}


def small_request(tmp_path, regs=("none", "beta"), seeds=(0, 1), **protocol):
    p = REDUCED.replace(dataset="moons", steps=4, num_samples=40, lp_pool=2,
                            skl_samples=60, is_samples=16, nll_examples=8, **protocol)
    return Request(protocol=p, regs=regs, seeds=seeds, out=str(tmp_path / "out"))


def fabricate(request, name, metrics, samples_shape=(30, 2), timing=(10.0, 5.0)):
    run_dir = os.path.join(request.runs_root, name)
    os.makedirs(os.path.join(run_dir, "eval"), exist_ok=True)
    with open(os.path.join(run_dir, "eval", "metrics.json"), "w") as f:
        json.dump(metrics, f)
    rng = np.random.default_rng(0)
    save_samples(run_dir, {"random": rng.uniform(size=samples_shape),
                                  "low_posterior": rng.uniform(size=samples_shape)})
    write_timing(run_dir, {"train_seconds": timing[0], "eval_seconds": timing[1]})
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)  # trained to the metrics' step
    with open(os.path.join(run_dir, "checkpoints", "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "ckpt-{metrics["step"]}"\n')
    return run_dir


def _quality(precision, density, reference=0.8):
    scores = {"precision": precision, "recall": 0.5, "density": density, "coverage": 0.4,
              "lp_precision": precision / 2, "lp_recall": 0.3, "lp_density": density / 2,
              "lp_coverage": 0.2, "nearest_k": 5, "train_vs_held_out": {
                  "precision": reference, "recall": 0.9, "density": 1.0, "coverage": 0.95}}
    return scores
