"""python -m tf_dpvae.retrofit end to end on two moons: a retrofit lowers the share of samples off the
data manifold (``benchmarks/moons.py``'s measure), the ex-post GMM's exported sampler follows the
fitted mixture through TF Serving's graph path, seeded and identical across reloads, and bad input is
one line, exit 2, nothing written."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from tf_dpvae import data as data_lib
from tf_dpvae import runs, training
from tf_dpvae.cli import retrofit
from tf_dpvae.config import ConfigError
from tf_dpvae.post_hoc_config import PostHocConfig
from tf_dpvae.export import savedmodel
from tf_dpvae.export.session import ServingSession, op_types

from conftest import tiny_config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from moons import measure  # noqa: E402  (THRESHOLD = 0.25 standardized units)

SEED = np.array([5, 9], np.int32)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A β-VAE-H (β = 4) with the normal prior on 2,000 two-moons points, 5 epochs: its N(0, I)
    samples fall off the moons where q(z) has pockets. (run_dir, training points)."""
    root = tmp_path_factory.mktemp("retrofit")
    config = tiny_config("beta", "normal", data={"num_examples": 2000},
                         model={"hidden_units": 64, "hidden_layers": 2},
                         train={"epochs": 5, "steps": 0, "batch_size": 100}, objective={"beta": 4.0})
    run_dir = str(root / "beta-normal")
    training.fit(config, run_dir, verbose=0, log=lambda *_: None)
    return run_dir, data_lib.load(config.data, 0).train


@pytest.fixture(scope="module")
def gmm_run(source):
    """The source retrofitted with a Gaussian mixture of K = 3 by the command line (default out)."""
    assert retrofit.main([source[0], "--sampler", "gmm", "--components", "3", "--no-progress"]) == 0
    return f"{source[0]}-gmm"


def test_retrofit_lowers_the_off_manifold_share(source, gmm_run):
    """Off-manifold share (farther than 0.25 standardized units from every training point) of 5,000
    samples: the normal prior's, then each retrofit's, which must be lower by 0.05 or more (measured:
    0.39 for N(0, I), 0.25 to 0.26 with either retrofit)."""
    run_dir, train = source
    flow = retrofit.main([run_dir, "--sampler", "flow", "--steps", "600", "--out", f"{run_dir}-flow",
                          "--no-progress"])
    assert flow == 0
    off = {name: measure(runs.load_run(path).model, train, 0)["off"]
           for name, path in (("normal", run_dir), ("flow", f"{run_dir}-flow"), ("gmm", gmm_run))}
    assert off["normal"] > 0.2, off
    assert off["flow"] < off["normal"] - 0.05 and off["gmm"] < off["normal"] - 0.05, off


def test_the_run_records_the_source_and_the_fitted_prior(source, gmm_run):
    record = json.load(open(os.path.join(gmm_run, "config.json")))
    assert record["prior"]["kind"] == "normal"    # what the VAE was trained with
    post_hoc = record["post_hoc"]
    assert post_hoc["settings"]["sampler"] == "gmm" and post_hoc["settings"]["components"] == 3
    assert post_hoc["settings"]["codes"] == "samples"
    assert post_hoc["source"]["run_dir"] == os.path.abspath(source[0])
    assert post_hoc["source"]["checkpoint_kind"] == "best"
    fit = post_hoc["fit"]
    assert fit["held_out_mean_log_likelihood"] > fit["held_out_mean_log_likelihood_normal"]
    assert os.listdir(os.path.join(gmm_run, "logs", "retrofit"))   # TensorBoard scalars
    loaded = runs.load_run(gmm_run)
    assert loaded.model.prior.kind == "gmm" and loaded.post_hoc["settings"].components == 3
    # the encoder and decoder are the source's, unchanged
    original = runs.load_run(source[0]).model
    x = source[1][:16]
    np.testing.assert_array_equal(loaded.model(x), original(x))
    with pytest.raises(ConfigError, match="holds a retrofit"):   # train --out RUN2 cannot resume it
        training.check_out_dir(gmm_run, loaded.config)


def test_exported_gmm_sampler_follows_the_fitted_mixture(gmm_run, tmp_path):
    """Through the TF1 session loader (TF Serving's path): the sample signature draws the fitted
    mixture (mean and covariance within Monte Carlo tolerance of its closed-form moments, and the
    very draws of the live prior), the same seed gives the same samples after a reload, log_prob is
    the mixture's density, and the graph holds only core TensorFlow ops."""
    prior = runs.load_run(gmm_run).model.prior
    weights = tf.nn.softmax(prior.logits).numpy().astype(np.float64)
    means = prior.means.numpy().astype(np.float64)
    tril = prior.scale_tril.numpy().astype(np.float64)
    covariances = tril @ tril.transpose(0, 2, 1)
    result = savedmodel.export_run(gmm_run, str(tmp_path / "models"), max_samples=8000)
    request = {"num_samples": np.int32(8000), "seed": SEED, "temperature": np.float32(1.0)}
    with ServingSession(result.path) as served:
        drawn = served.run("sample", **request)
        other = served.run("sample", **{**request, "seed": np.array([5, 10], np.int32)})
        points = drawn["z"][:5]
        log_prob = served.run("log_prob", z=points)["log_prob"]
        ops = op_types(served.graph_def)
    with ServingSession(result.path) as reloaded:
        again = reloaded.run("sample", **request)
    np.testing.assert_array_equal(drawn["z"], again["z"])
    np.testing.assert_array_equal(drawn["images"], again["images"])
    assert not np.allclose(drawn["z"], other["z"])
    np.testing.assert_allclose(drawn["z"], prior.sample(8000, tf.constant(SEED))[0], atol=1e-5)
    z = drawn["z"].astype(np.float64)
    mean = weights @ means
    covariance = sum(w * (c + np.outer(m, m)) for w, m, c in zip(weights, means, covariances)) - np.outer(
        mean, mean)
    scale = np.sqrt(np.diag(covariance))
    np.testing.assert_allclose(z.mean(0), mean, atol=4 * scale.max() / np.sqrt(8000))
    np.testing.assert_allclose(np.cov(z.T), covariance, atol=0.06 * scale.max() ** 2)
    expected = logsumexp([np.log(w) + multivariate_normal(m, c).logpdf(points)
                          for w, m, c in zip(weights, means, covariances)], axis=0)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)
    # k by stateless_categorical, ε by stateless_normal, the seed split by a stateless draw: all core
    assert {"StatelessMultinomial", "StatelessRandomNormalV2", "StatelessRandomUniformFullIntV2"} <= ops
    stateful_rng = ("RandomStandardNormal", "RandomUniform", "Multinomial", "StatefulStandardNormal",
                    "StatefulUniform", "RngReadAndSkip", "RngSkip")
    assert not any(op.startswith(stateful_rng) for op in ops)


def one_line(argv, capsys):
    try:
        code = retrofit.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else "", len(err)


def test_bad_input_is_one_line_exit_2_and_writes_nothing(source, gmm_run, tmp_path, capsys):
    run_dir = source[0]
    dp_run = tmp_path / "factor-dp"
    dp_run.mkdir()
    (dp_run / "config.json").write_text(tiny_config("factor", "dp").to_json())
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    cases = [
        ([str(not_a_run), "--sampler", "flow"], f"{str(not_a_run)!r} is not a run directory: it has no "
                                                 "config.json; give a directory written by python -m "
                                                 "tf_dpvae.train"),
        ([str(tmp_path / "missing"), "--sampler", "gmm"], "does not exist"),
        ([run_dir, "--sampler", "gmm", "--components", "0"], "components must be a positive integer, got 0"),
        ([run_dir, "--sampler", "gmm", "--components", "-2"], "components must be a positive integer, got -2"),
        ([run_dir, "--sampler", "flow", "--components", "4"], "--components applies to --sampler gmm"),
        ([run_dir], "required: --sampler"),
        ([str(dp_run), "--sampler", "flow"], "was trained with the decoupled prior"),
        ([gmm_run, "--sampler", "gmm"], "is already a retrofit (post-hoc gmm of"),
        ([run_dir, "--sampler", "flow", "--out", gmm_run], "already holds a run"),
        ([run_dir, "--sampler", "flow", "--out", run_dir], "is the source run itself"),
    ]
    before = sorted(os.listdir(tmp_path)), sorted(os.listdir(os.path.dirname(run_dir)))
    for argv, message in cases:
        code, last, lines = one_line([*argv, "--out", str(tmp_path / "new")] if "--out" not in argv
                                     else argv, capsys)
        assert (code, lines) == (2, 1), (argv, last)
        assert message in last, (argv, last)
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(os.path.dirname(run_dir)))) == before
    with pytest.raises(ValueError, match="components must be an integer"):
        PostHocConfig(sampler="gmm", components=-1)
