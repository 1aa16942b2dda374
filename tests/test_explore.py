"""tf_dpvae.explore: train-and-evaluate in one call, the LP/HP samples with their images under g, the
paths of Fig. 5, and the figure that draws the LP/HP samples."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import explore, plots
from tf_dpvae.evaluation import sampling
from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density
from tf_dpvae.evaluation.run import EvalSettings
from tf_dpvae.model import build_model


@pytest.fixture(scope="module")
def models():
    from conftest import tiny_config

    tf.keras.utils.set_random_seed(0)
    return {kind: build_model(tiny_config("none", kind), (None, 2)) for kind in ("dp", "normal")}


@pytest.fixture(scope="module")
def train_points():
    return np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)


@pytest.mark.parametrize("kind", ["dp", "normal"])
def test_pockets_and_leaks_are_the_extremes_of_their_pools(models, train_points, kind):
    model = models[kind]
    out = explore.pockets_and_leaks(model, train_points, k=4, pool=300, seed=1)
    low, high = out["low"], out["high"]
    for s in (low, high):
        assert s["z"].shape == (4, 2) and s["z0"].shape == (4, 2) and s["x"].shape == (4, 2)
        # z0 = g(z), the log base density is log N(z0; 0, I), x = E[x|z]: against the model directly
        np.testing.assert_allclose(s["z0"], model.prior.forward(tf.constant(s["z"], tf.float32))[0],
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(s["log_base"], -0.5 * np.sum(np.log(2 * np.pi) + s["z0"] ** 2, 1),
                                   rtol=1e-9)
        np.testing.assert_allclose(s["x"], model.decode_mean(tf.constant(s["z"], tf.float32)),
                                   rtol=1e-5, atol=1e-6)
    if kind == "normal":
        np.testing.assert_array_equal(low["z0"], low["z"])
    # lowest first; the pockets' log q(z) is the minimum over the same 300 prior draws
    assert np.all(np.diff(low["log_q"]) >= 0) and np.all(np.diff(high["log_base"]) >= 0)
    pool_z = model.prior.sample(300, tf.constant([1, 2], tf.int32))[0].numpy()
    pool_log_q = aggregate_posterior_log_density(pool_z, out["means"], out["log_vars"])
    np.testing.assert_allclose(low["log_q"], np.sort(pool_log_q)[:4], rtol=1e-5)
    # leaks are far from the prior's mode: below the typical base density of q(z) samples
    assert high["log_base"].max() <= np.median(-0.5 * np.sum(np.log(2 * np.pi)
                                                             + out["z0_of_means"] ** 2, 1))
    with pytest.raises(ValueError, match="k must be in"):
        explore.pockets_and_leaks(model, train_points, k=0, pool=10)


def test_latent_paths_join_the_end_points_and_are_straight_in_z0(models, train_points):
    dp, normal = models["dp"], models["normal"]
    means, log_vars = sampling.encode(dp, train_points)
    z_a, z_b = np.array([-1.0, 0.5]), np.array([1.5, -0.25])
    paths = explore.latent_paths(dp, z_a, z_b, steps=7, means=means, log_vars=log_vars)
    flow, straight = paths["flow"]["z"], paths["straight"]["z"]
    assert flow.shape == straight.shape == (7, 2) and paths["flow"]["x"].shape == (7, 2)
    np.testing.assert_allclose(flow[[0, -1]], [z_a, z_b], atol=1e-4)
    np.testing.assert_allclose(straight[3], (z_a + z_b) / 2, rtol=1e-12)
    # g of the flow path is the straight line between g(z_a) and g(z_b)
    z0 = dp.prior.forward(tf.constant(flow, tf.float32))[0].numpy()
    np.testing.assert_allclose(z0, (1 - paths["t"][:, None]) * z0[0] + paths["t"][:, None] * z0[-1],
                               atol=1e-4)
    np.testing.assert_allclose(paths["straight"]["log_q"],
                               aggregate_posterior_log_density(straight, means, log_vars), rtol=1e-12)
    # with g = id the two paths coincide
    same = explore.latent_paths(normal, z_a, z_b, steps=5)
    np.testing.assert_allclose(same["flow"]["z"], same["straight"]["z"], atol=1e-6)
    assert "log_q" not in same["flow"]
    with pytest.raises(ValueError, match="steps must be an integer >= 2, got 1"):
        explore.latent_paths(dp, z_a, z_b, steps=1)
    with pytest.raises(ValueError, match=r"z_a and z_b must have shape \(2,\)"):
        explore.latent_paths(dp, np.zeros(3), z_b)


def test_train_and_evaluate_leaves_a_table1_run(tmp_path):
    from conftest import tiny_config

    settings = EvalSettings(num_samples=30, lp_pool=2, skl_samples=40, is_samples=4, nll_examples=5,
                            taus=(-20.0, -4.0))
    done = explore.train_and_evaluate(tiny_config("beta", "dp"), str(tmp_path), settings,
                                      log=lambda *_: None)
    assert done.run.step == 3 and done.run.model is not None
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["step"] == done.metrics["step"] == 3
    with np.load(tmp_path / "eval" / "samples.npz") as f:
        np.testing.assert_array_equal(f["random"], done.arrays["random"])
    leak = done.metrics["metrics"]["leakage"]["eq6_literal"]["leakage_score"]
    assert done.values["leakage"] == pytest.approx(leak[1])
    assert done.values["fd"] == pytest.approx(done.metrics["metrics"]["frechet_distance_data"]["random"])
    assert {"samples", "leakage", "posterior_map", "paths"} <= set(done.figures)


@pytest.mark.parametrize("example", [(2,), (6, 6, 1)])
def test_pockets_and_leaks_figure_renders(example):
    rng = np.random.default_rng(2)
    means = rng.normal(size=(50, 2))

    def samples():
        return {"z": rng.normal(size=(3, 2)), "z0": rng.normal(size=(3, 2)),
                "x": rng.uniform(size=(3,) + example)}

    fig = plots.pockets_and_leaks_figure(rng.normal(size=(50, 2)), means, np.full((50, 2), -2.0),
                                         means, samples(), samples(), identity=example != (2,))
    assert len(fig.axes) == 4  # three panels and the colour bar of q(z)
    assert plots.figure_to_png(fig)[:4] == b"\x89PNG"
