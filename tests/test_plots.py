import numpy as np
import scipy.stats

from tf_dpvae import plots


def test_aggregate_posterior_density_is_the_exact_mixture():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(7, 2))
    log_vars = rng.normal(size=(7, 2)) * 0.3
    points = rng.normal(size=(5, 2))
    expected = np.log(np.mean([scipy.stats.multivariate_normal(m, np.diag(np.exp(v))).pdf(points)
                               for m, v in zip(means, log_vars)], axis=0))
    np.testing.assert_allclose(plots.aggregate_posterior_log_density(points, means, log_vars, chunk=2),
                               expected, rtol=1e-6)


def test_moons_figure_renders_a_png_with_three_panels():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(100, 2))
    fig = plots.moons_figure(data, data + 0.1, rng.normal(size=100), data, np.zeros((100, 2)) - 2,
                             z0_of_means=data)
    assert len(fig.axes) == 5  # three panels and two colour bars
    png = plots.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_kl_order_is_descending_and_stable():
    np.testing.assert_array_equal(plots.kl_order([0.5, 2.0, 0.0, 2.0, 1.0]), [1, 3, 4, 0, 2])


def test_kl_sorted_traversal_figure_puts_the_largest_kl_first():
    # dimension k's traversal is an image of constant brightness k/(d-1): the rows' order is visible
    d, steps = 4, 5
    decoded = np.broadcast_to((np.arange(d) / (d - 1))[:, None, None, None, None],
                              (d, steps, 6, 6, 1)).astype(np.float32)
    kl = np.array([0.3, 2.5, 0.001, 1.0])
    fig = plots.kl_sorted_traversal_figure(
        [("normal", decoded, kl), ("dp", decoded[::-1], kl[::-1])], np.linspace(-2, 2, steps))
    left, right = fig.axes
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels == ["z2  KL 2.50", "z4  KL 1.00", "z1  KL 0.30", "z3  KL 0.00  inactive"]
    grid = left.get_images()[0].get_array()
    pitch = 6 + 2
    row_values = [float(grid[2 + pitch * r + 3, 5]) for r in range(d)]
    np.testing.assert_allclose(row_values, [1 / 3, 1.0, 0.0, 2 / 3], atol=1e-6)
    assert [t.get_text() for t in right.get_yticklabels()][0] == "z3  KL 2.50"
    assert [t.get_text() for t in left.get_xticklabels()] == ["-2", "-1", "+0", "+1", "+2"]
    png = plots.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"



def test_labelled_grid_has_its_title_drawn_above_the_unchanged_grid():
    grid = np.full((30, 122, 1), 0.5, np.float32)
    out = plots.labelled(grid, "E[x | z = μ(x)]")
    assert out.shape == (14 + 30, 122, 1)
    np.testing.assert_array_equal(out[14:], grid)
    strip = out[:14, :, 0]
    assert strip.min() < 0.5 and np.median(strip) == 1.0   # dark text on a white strip


def test_leakage_comparison_figure_names_models_and_explains_the_dp_offset():
    """One colour per pair with each model's own name; with the full-density curves a second panel;
    the caption says what the sign means and why the dp curves of eq. (6) overlap."""
    import matplotlib.pyplot as plt

    tau = [-20.0, -4.0, -1.0]
    curves = [{"label": "FactorVAE", "name": "FactorVAE", "prior": "normal", "tau": tau,
               "score": [0.0, 4.0, 5.0], "full_score": [0.0, 4.0, 5.0]},
              {"label": "FactorVAE", "name": "Factor-dpVAE", "prior": "dp", "tau": tau,
               "score": [0.0, -4.0, -4.1], "full_score": [0.0, 0.1, None]}]
    fig = plots.leakage_comparison_figure(curves, tau_mark=-4.0)
    axes = fig.axes
    assert len(axes) == 2
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert lines["FactorVAE"].get_color() == lines["Factor-dpVAE"].get_color()
        assert lines["FactorVAE"].get_linestyle() == "--" and lines["Factor-dpVAE"].get_linestyle() == "-"
    caption = fig._supxlabel.get_text().replace("\n", " ")
    assert "LS > 0" in caption and "log-determinant" in caption
    plt.close(fig)
    single = plots.leakage_comparison_figure([{**c, "full_score": None} for c in curves])
    assert len(single.axes) == 1
    plt.close(single)


def test_sample_sheets_define_low_posterior_samples():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig = plots.paired_samples_figure([("VAE", rng.random((4, 2)), rng.random((4, 2)))])
    caption = fig._supxlabel.get_text().replace("\n", " ")
    assert "lowest aggregate posterior log q(z)" in caption
    plt.close(fig)
    assert "of 5·n prior draws" in plots.low_posterior_definition(5)
