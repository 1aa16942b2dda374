"""Importance-sampled NLL on a linear-Gaussian VAE, whose exact marginal likelihood is known:

    p(z) = N(0, I_d),  p(x|z) = N(Wz + b, σ²I_D)   ⇒   p(x) = N(b, WWᵀ + σ²I_D),
    exact posterior: Σ = (I + WᵀW/σ²)⁻¹,  μ = Σ Wᵀ(x − b)/σ².

W has orthogonal columns, so the exact posterior is diagonal and a mean-field encoder can represent it.
"""

import math

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tf_dpvae import divergences
from tf_dpvae.evaluation import importance_nll

D, LATENT, SIGMA = 5, 2, 0.5


class StandardNormal:
    is_identity = True

    def log_prob(self, z):
        return divergences.standard_normal_log_density(z)


class LinearGaussianVAE:
    """A DPVAE-shaped test double: encode, decode, likelihood, obs_std, prior.log_prob."""

    likelihood = "gaussian"
    obs_std = SIGMA

    def __init__(self, shift=0.0, var_scale=1.0):
        rng = np.random.default_rng(0)
        q, _ = np.linalg.qr(rng.normal(size=(D, LATENT)))
        self.w = (q * [1.5, 0.7]).astype(np.float32)           # orthogonal columns, norms 1.5 and 0.7
        self.b = rng.normal(size=D).astype(np.float32)
        post_var = 1.0 / (1.0 + np.sum(self.w ** 2, axis=0) / SIGMA ** 2)   # diagonal of Σ
        self.post_var = post_var.astype(np.float32)
        self.shift, self.var_scale = shift, var_scale            # a deliberately imperfect encoder
        self.prior = StandardNormal()

    def encode(self, x):
        mean = (tf.matmul(x - self.b, self.w) / SIGMA ** 2) * self.post_var + self.shift
        log_var = tf.math.log(self.post_var * self.var_scale) + tf.zeros_like(mean)
        return mean, log_var

    def decode(self, z):
        return tf.matmul(z, self.w, transpose_b=True) + self.b

    def exact_nll(self, x):
        cov = self.w @ self.w.T + SIGMA ** 2 * np.eye(D)
        return -scipy.stats.multivariate_normal(self.b, cov).logpdf(x)

    def sample_data(self, n, seed):
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(n, LATENT))
        return (z @ self.w.T + self.b + SIGMA * rng.normal(size=(n, D))).astype(np.float32)


def test_exact_posterior_gives_the_exact_marginal_with_one_sample():
    """With q = the true posterior every weight equals p(x): IS-NLL = −ELBO = −log p(x) exactly."""
    model = LinearGaussianVAE()
    x = model.sample_data(20, seed=1)
    out = importance_nll.importance_sampled_nll(model, x, num_samples=3, seed=0)
    np.testing.assert_allclose(out["nll"], model.exact_nll(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["neg_elbo"], model.exact_nll(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["ess"], 3.0, rtol=1e-3)


def test_imperfect_encoder_is_bounded_by_the_elbo_and_converges_to_the_exact_nll():
    """Shifted, too-wide q: −ELBO > IS-NLL (per example), and the IS-NLL at K = 1000 is within
    0.02 nats of −log p(x) on average and never more than 4 of its own standard errors below it for
    any example (its bias is upward, Var(w)/(2K E[w]²), so only sampling noise can push it below)."""
    model = LinearGaussianVAE(shift=0.3, var_scale=1.8)
    x = model.sample_data(40, seed=2)
    exact = model.exact_nll(x)
    out = importance_nll.importance_sampled_nll(model, x, num_samples=1000, seed=0, batch_size=16)
    assert np.all(out["neg_elbo"] > out["nll"])
    assert np.mean(out["neg_elbo"] - exact) > 0.1             # the ELBO gap is real, not round-off
    assert abs(np.mean(out["nll"] - exact)) < 0.02
    assert np.all(out["nll"] - exact > -4 * out["nll_se"])
    assert np.all(out["nll_se"] < 0.05)
    one = importance_nll.importance_sampled_nll(model, x, num_samples=1, seed=0)
    assert np.mean(one["nll"] - exact) > np.mean(out["nll"] - exact) + 0.05   # K helps


def test_draws_do_not_depend_on_batching():
    model = LinearGaussianVAE(shift=0.3, var_scale=1.8)
    x = model.sample_data(7, seed=3)
    a = importance_nll.importance_sampled_nll(model, x, num_samples=50, seed=4, batch_size=7)
    b = importance_nll.importance_sampled_nll(model, x, num_samples=50, seed=4, batch_size=3,
                                              max_pairs=20)
    np.testing.assert_allclose(a["nll"], b["nll"], rtol=1e-5)
    with pytest.raises(ValueError, match="num_samples"):
        importance_nll.importance_sampled_nll(model, x, num_samples=0, seed=0)


def test_works_on_a_real_dp_model(make_config):
    """A built DPVAE with the decoupled prior goes through unchanged; −ELBO ≥ IS-NLL, both finite."""
    from tf_dpvae.model import build_model

    model = build_model(make_config("none", "dp"), (None, 2))
    x = np.random.default_rng(5).normal(size=(6, 2)).astype(np.float32)
    out = importance_nll.importance_sampled_nll(model, x, num_samples=64, seed=0)
    assert np.all(np.isfinite(out["nll"])) and np.all(out["neg_elbo"] >= out["nll"] - 1e-4)
    assert math.isfinite(float(np.mean(out["ess"])))


def reference_importance_sampled_nll(model, x, num_samples, seed, batch_size=None, max_pairs=50_000):
    """The implementation before the compiled per-batch function (commit 5598f3b), kept as the
    reference: eager per-example draws stacked in Python, a retracing function per sample chunk."""
    from scipy.special import logsumexp

    x = np.asarray(x, np.float32)
    if batch_size is None:
        batch_size = max(1, max_pairs // num_samples)
    chunk = max(1, min(num_samples, max_pairs // batch_size))
    d = int(model.encode(x[:1])[0].shape[-1])
    out = {"nll": [], "nll_se": [], "neg_elbo": [], "ess": []}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        eps = tf.stack([tf.random.stateless_normal([num_samples, d], seed=[seed, start + i])
                        for i in range(len(xb))])
        log_w = tf.concat([importance_nll.log_importance_weights(model, xb, eps[:, s:s + chunk])
                           for s in range(0, num_samples, chunk)], axis=1).numpy().astype(np.float64)
        lse = logsumexp(log_w, axis=1)
        out["nll"].append(-(lse - math.log(num_samples)))
        out["neg_elbo"].append(-log_w.mean(axis=1))
        ess = np.exp(2 * lse - logsumexp(2 * log_w, axis=1))
        out["ess"].append(ess)
        out["nll_se"].append(np.sqrt(np.maximum(num_samples / ess - 1.0, 0.0) / num_samples))
    return {key: np.concatenate(value) for key, value in out.items()}


def assert_matches_reference(new, old):
    """The log-weights agree to float32 rounding (graph against eager, other decoder batch sizes);
    the ESS, exp(2·lse(log w) − lse(2·log w)), and the SE derived from it amplify that rounding."""
    for key, rtol in (("nll", 1e-6), ("neg_elbo", 1e-6), ("nll_se", 1e-4), ("ess", 1e-4)):
        np.testing.assert_allclose(new[key], old[key], rtol=rtol, atol=1e-6, err_msg=key)


def test_draws_inside_the_compiled_function_are_the_per_example_stateless_draws():
    eps = importance_nll.importance_draws(7, 3, seed=11, first=5, count=4).numpy()
    for j in range(4):
        np.testing.assert_array_equal(eps[j], tf.random.stateless_normal([7, 3], seed=[11, 5 + j]))


@pytest.mark.parametrize("batch_size, max_pairs", [(None, 50_000), (3, 20), (4, 50_000), (6, 50_000),
                                                   (16, 40)])
def test_matches_the_reference_implementation(batch_size, max_pairs, monkeypatch):
    """Padded last batches (7 = 3 + 3 + 1), balanced ones (batch_size 6: 4 + 3, not 6 + 1), several
    sample chunks with a padded last one (K = 50 in chunks of 6), one batch of everything: the same
    numbers as the reference (the same draws, so up to float32 rounding of the decoder at other batch
    sizes), traced once per call."""
    model = LinearGaussianVAE(shift=0.3, var_scale=1.8)
    x = model.sample_data(7, seed=3)
    functions = []
    build = importance_nll._batch_weights_function
    monkeypatch.setattr(importance_nll, "_batch_weights_function",
                        lambda *args: functions.append(build(*args)) or functions[-1])
    done = []
    new = importance_nll.importance_sampled_nll(model, x, 50, seed=4, batch_size=batch_size,
                                                max_pairs=max_pairs, progress=done.append)
    old = reference_importance_sampled_nll(model, x, 50, seed=4, batch_size=batch_size,
                                           max_pairs=max_pairs)
    assert_matches_reference(new, old)
    assert sum(done) == 7 and functions[0].experimental_get_tracing_count() == 1


def test_matches_the_reference_on_a_real_dp_model(make_config):
    from tf_dpvae.model import build_model

    model = build_model(make_config("none", "dp"), (None, 2))
    x = np.random.default_rng(6).normal(size=(5, 2)).astype(np.float32)
    new = importance_nll.importance_sampled_nll(model, x, 30, seed=2, batch_size=2)
    old = reference_importance_sampled_nll(model, x, 30, seed=2, batch_size=2)
    assert_matches_reference(new, old)
    assert importance_nll.importance_sampled_nll(model, x[:0], 30, seed=2)["nll"].shape == (0,)
