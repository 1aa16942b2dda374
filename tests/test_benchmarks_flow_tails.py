"""benchmarks/flow_tails.py end to end on a tiny run trained here for 3 steps (spline couplings with
random permutations, d = 3): the four tables, the per-step log-determinants summing to the prior's,
and the radius sweep's PNG."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import runs, training

from conftest import tiny_config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import flow_tails  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("flow_tails") / "run")
    config = tiny_config("none", "dp", model={"latent_dim": 3},
                         prior={"coupling": "spline", "permutation": "random", "spline_bins": 4,
                                "num_blocks": 2})
    training.fit(config, path, verbose=0, log=lambda *_: None)
    return path


def test_flow_tails_prints_the_tables_and_writes_the_sweep(run_dir, tmp_path, capsys):
    out = tmp_path / "tails.md"
    assert flow_tails.main([run_dir, "--samples", "300", "--max-codes", "150", "--directions", "3",
                            "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_text().strip() == printed.strip()
    assert printed.startswith("`benchmarks/flow_tails.py ") and "commit" in printed.splitlines()[0]
    for heading in ("### 1. Norms", "### 2. log|det", "### 3. Which dimensions", "### 4. Radius sweep"):
        assert heading in printed
    assert "coupling spline, permutation random" in printed and "150 training codes" in printed
    # the steps of g, in the density direction: coupling_1, its permutation, coupling_0, then the sum
    steps = [line.split(" | ")[0].lstrip("| ") for line in printed.splitlines()
             if line.startswith("| coupling_") or line.startswith("| permute_")]
    assert steps == ["coupling_1", "permute_0", "coupling_0"]
    assert sum(line.startswith("| ") and line[2].isdigit() for line in printed.splitlines()) >= 3
    png = tmp_path / "tails.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_step_log_dets_sum_to_the_priors(run_dir):
    model = runs.load_run(run_dir).model
    z = tf.random.stateless_normal([16, 3], seed=[1, 2]) * 2
    total = sum(v for _, v in model.prior.forward_steps(z))
    np.testing.assert_allclose(total, model.prior.forward(tf.identity(z))[1], atol=1e-5)
    z0, z_sweep, decoded = flow_tails.radius_sweep(model, 3, directions=2, seed=0)
    assert z0.shape == z_sweep.shape == (len(flow_tails.RADII), 2, 3) and decoded.shape[:2] == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(z0, axis=-1)[:, 0], flow_tails.RADII, rtol=1e-6)


def test_a_directory_that_is_not_a_run_is_one_line_exit_2(tmp_path, capsys):
    assert flow_tails.main([str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_sweep_figure_of_images_labels_every_radius():
    radii = (1.0, 4.0)
    z = np.random.default_rng(0).normal(size=(2, 3, 5))
    decoded = np.random.default_rng(1).uniform(size=(2, 3, 6, 6, 1))
    fig = flow_tails.sweep_figure(z, decoded, None, radii=radii)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert [label.split("\n")[0] for label in labels] == ["r = 1", "r = 4"]
