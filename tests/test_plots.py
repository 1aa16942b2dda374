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

