"""tf_dpvae.experiments.protocol: the protocols and the pair configurations."""

import dataclasses

import pytest

from tf_dpvae.experiments.protocol import PROTOCOLS, REDUCED, Table1Error, pair_configs

def test_protocols_are_frozen_and_have_the_briefed_sizes():
    r, p = PROTOCOLS["reduced"], PROTOCOLS["paper"]
    assert (r.dataset, r.latent_dim, r.arch, r.batch_size, r.lr, r.steps) == (
        "fashion_mnist", 2, "auto", 100, 1e-3, 1080)
    assert (r.num_samples, r.lp_pool, r.skl_samples, r.is_samples, r.nll_examples, r.eval_seed) == (
        5000, 5, 5000, 100, 500, 0)
    assert (p.steps, p.num_samples, p.skl_samples, p.is_samples) == (100_000, 10_000, 5_000, 21_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.steps = 3
    with pytest.raises(Table1Error, match="steps"):
        dataclasses.replace(r, steps=0)


def test_a_pair_differs_in_the_prior_only():
    pair = pair_configs(REDUCED, "factor", 3, num_train=54_000)
    normal, dp = pair["normal"].to_dict(), pair["dp"].to_dict()
    assert normal["prior"]["kind"] == "normal" and dp["prior"]["kind"] == "dp"
    dp["prior"]["kind"] = "normal"
    assert normal == dp
    t = pair["normal"].train
    assert (t.steps, t.seed, t.batch_size, t.lr) == (1080, 3, 100, 1e-3)
    assert t.epochs == 2  # ⌈1080 / 540⌉: the fewest epochs that hold the steps
    assert pair["normal"].model.latent_dim == 2 and pair["normal"].model.arch == "auto"
    assert pair["normal"].data.dataset == "fashion_mnist"
