"""evaluation.figures: the arrays an evaluation draws, the leakage curves, and which figures it draws.

End to end (every figure of a trained run written as a PNG) in test_cli_evaluate.py."""

import numpy as np
import pytest

from tf_dpvae import aggregate_posterior as ap
from tf_dpvae.evaluation import figures, sampling
from tf_dpvae.evaluation.settings import EvalSettings

PNG = b"\x89PNG\r\n\x1a\n"


def leak(variants):
    return {v: {"tau": [-3.0, -1.0], "leakage_score": [float(i), float(i) + 0.5],
                "fraction_below": [0.1 * i, 0.2 * i]} for i, v in enumerate(variants)}


def test_leakage_curves_draw_one_curve_per_variant_or_one_when_they_coincide():
    table = leak(["eq6_literal", "base_density", "full_density"])
    curves = figures.leakage_curves(table, variants_coincide=False)
    assert len(curves) == 3
    by_variant = {label.split(" ")[0]: value for label, value in curves.items()}
    assert by_variant["base"] == ([-3.0, -1.0], [1.0, 1.5], [0.1, 0.2])
    assert by_variant["full"] == ([-3.0, -1.0], [2.0, 2.5], [0.2, 0.4])
    assert "ratio to N(g(z))" in next(label for label in curves if label.startswith("eq. 6"))
    one = figures.leakage_curves(table, variants_coincide=True)
    assert list(one) == ["eq. 6 (h = id; all variants coincide)"]
    assert one["eq. 6 (h = id; all variants coincide)"] == ([-3.0, -1.0], [0.0, 0.5], [0.0, 0.0])


def test_the_q_map_uses_the_one_aggregate_posterior_density():
    """No copy of log q(z) here: the evaluation's map draws the density the metrics use."""
    assert figures.aggregate_posterior_log_density is ap.aggregate_posterior_log_density


def test_evaluation_figures_draws_what_the_arrays_hold():
    """The leakage figure always; the others only when their arrays are there; a PNG each."""
    import matplotlib.pyplot as plt

    curves = figures.leakage_curves(leak(["eq6_literal"]), variants_coincide=True)
    only = figures.evaluation_figures({"data": None}, curves, "VAE, step 3")
    assert set(only) == {"leakage"} and only["leakage"][:8] == PNG
    rng = np.random.default_rng(0)
    images = rng.random((6, 5, 5, 1)).astype(np.float32)
    arrays = {"data": None,
              "samples": [("random prior samples", images), ("low-posterior samples", images[:3])],
              "traversals": {"values": np.linspace(0, 1, 4), "decoded": rng.random((2, 4, 5, 5, 1))}}
    drawn = figures.evaluation_figures(arrays, curves, "VAE, step 3", lp_pool=7)
    assert set(drawn) == {"leakage", "samples", "traversals"}
    assert all(png[:8] == PNG for png in drawn.values())
    assert plt.get_fignums() == []   # every figure closed once written
    assert set(figures.FIGURE_DESCRIPTIONS) >= set(drawn) | {"posterior_map", "paths"}


def test_sample_panels_figure_scatters_vectors_and_tiles_images():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    fig = figures.sample_panels_figure([("random", rng.normal(size=(9, 2))),
                                        ("images", rng.random((3, 4, 4, 1)))],
                                       data=rng.normal(size=(20, 2)), caption="what they are")
    vectors, images = fig.axes
    assert vectors.get_title() == "random (n=9)" and images.get_title() == "images (n=3)"
    assert len(vectors.collections) == 2 and not vectors.get_images()   # data, then samples
    assert len(images.get_images()) == 1 and not images.collections
    assert fig._supxlabel.get_text() == "what they are"
    plt.close(fig)


@pytest.fixture(scope="module")
def model():
    from conftest import tiny_config

    from tf_dpvae.model import build_model

    built = build_model(tiny_config("none", "dp", model={"latent_dim": 2}), (None, 2))
    built.encode(np.zeros((1, 2), np.float32))
    return built


def test_figure_arrays_traverse_each_dimension_and_map_the_z0_line_through_the_flow(model, monkeypatch):
    """With the decoder replaced by the identity (2-D codes, 2-D data) the arrays show their codes:
    row k of the traversals moves z_k from the 1st to the 99th percentile of the training means μ_k
    with the other dimension at the first held-out example's μ; the z0 path starts and ends at the
    two chosen means (g⁻¹(g(μ)) = μ) and the straight path is the segment between them."""
    monkeypatch.setattr(sampling, "decode", lambda _model, z: np.asarray(z, np.float64))
    rng = np.random.default_rng(2)
    train, held_out = rng.normal(size=(120, 2)), rng.normal(size=(30, 2))
    means, log_vars = sampling.encode(model, train)
    s = EvalSettings(num_samples=20, lp_pool=2, figure_samples=8, marked=5)
    seeds = {"hp_pool_numpy": 11, "paths_numpy": 12}
    prior_z = sampling.prior_draw(model, s.num_samples, [0, 1])
    lp = sampling.low_posterior_samples(model, means, log_vars, s.num_samples, s.lp_pool, [0, 2])
    arrays = figures.figure_arrays(model, means, log_vars, held_out, prior_z, lp, prior_z, s, seeds)
    assert set(arrays) == {"data", "samples", "posterior_map", "traversals", "paths"}
    assert [len(x) for _, x in arrays["samples"]] == [20, 8, 8]   # all random ones in a 2-D scatter
    marked = arrays["posterior_map"]
    assert len(marked["low_z"]) == len(marked["high_z"]) == 5
    np.testing.assert_array_equal(marked["low_z"], lp.z[:5])    # the lowest log q(z) first

    traversals = arrays["traversals"]["decoded"]                # [d, T, 2]: here the codes
    anchor = model.encode(held_out[:1].astype(np.float32))[0].numpy()[0]
    assert traversals.shape == (2, 9, 2)
    for k in range(2):
        expected = np.linspace(np.percentile(means[:, k], 1), np.percentile(means[:, k], 99), 9)
        np.testing.assert_allclose(traversals[k, :, k], expected, rtol=1e-12)
        np.testing.assert_allclose(traversals[k, :, 1 - k], anchor[1 - k], rtol=1e-6)

    paths = arrays["paths"]
    a, b = paths["z_straight"][0], paths["z_straight"][-1]
    assert any(np.array_equal(a, m) for m in means) and any(np.array_equal(b, m) for m in means)
    np.testing.assert_allclose(paths["z_straight"][5], a + 5 / 11 * (b - a), rtol=1e-12)
    np.testing.assert_allclose(paths["z_of_z0_path"][[0, -1]], [a, b], atol=1e-4)
    again = figures.figure_arrays(model, means, log_vars, held_out, prior_z, lp, prior_z, s, seeds)
    np.testing.assert_array_equal(again["paths"]["z_straight"], paths["z_straight"])   # seeded
