"""export.signatures on models built here (no training): an output that overflows, image-shaped
models with either prior, and the flow's options, each served through TF Serving's graph path."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae.config import ObjectiveConfig
from tf_dpvae.export import savedmodel
from tf_dpvae.export.session import ServingSession
from tf_dpvae.model import DPVAE, build_model
from tf_dpvae.priors import make_prior
from tf_dpvae.regularizers import make_objective

from conftest import tiny_config
from export_cases import SEED, sample_request, unchecked_run


def test_an_output_that_overflows_is_invalid_argument_not_inf():
    from tf_dpvae.export.signatures import finite_outputs

    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        x = tf.compat.v1.placeholder(tf.float32, [None])
        out = finite_outputs({"log_prob": x * 1e30})
        assert session.run(out, {x: [1.0]})["log_prob"][0] == pytest.approx(1e30)
        with pytest.raises(tf.errors.InvalidArgumentError, match="the log_prob of this request is "
                                                                 "not finite"):
            session.run(out, {x: [1e10]})


class TinyImageEncoder(keras.Model):
    """x [B, H, W, C] → (mean, log_var) [B, d]: enough to exercise image-shaped signatures."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(2 * latent_dim)

    def call(self, x):
        return keras.ops.split(self.head(self.flatten(x)), 2, axis=-1)


class TinyImageDecoder(keras.Model):
    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(int(np.prod(shape)))
        self.reshape = keras.layers.Reshape(shape)

    def call(self, z):
        return self.reshape(self.dense(z))


@pytest.mark.parametrize("prior", ["normal", "dp"])
def test_image_shaped_model_and_normal_prior(tmp_path, prior):
    shape = (4, 4, 1)
    model = DPVAE(TinyImageEncoder(3), TinyImageDecoder(shape), make_prior(prior, 3, num_blocks=2),
                  make_objective(ObjectiveConfig(reg="none")), likelihood="bernoulli")
    model.build((None, *shape))
    result = savedmodel.export_model(model, str(tmp_path), max_samples=10)
    x = np.random.default_rng(2).uniform(size=(2, *shape)).astype(np.float32)
    with ServingSession(result.path) as served:
        drawn = served.run("sample", **sample_request(3))
        expected = model.sample(3, tf.constant(SEED), 1.0)
        assert set(drawn) == ({"images", "z"} | ({"z0"} if prior == "dp" else set()))
        assert drawn["images"].shape == (3, *shape)
        np.testing.assert_allclose(drawn["images"], expected["images"].numpy(), rtol=1e-5, atol=1e-6)
        assert set(served.run("encode", images=x)) == ({"mean", "log_var"}
                                                       | ({"z0"} if prior == "dp" else set()))
        np.testing.assert_allclose(served.run("reconstruct", images=x)["images"], model(x).numpy(),
                                   rtol=1e-5, atol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"images must have shape \[\?, 4, 4, 1\]; got shape\] \[2 4 4 3\]"):
            unchecked_run(served, "encode", images=np.zeros((2, 4, 4, 3), np.float32))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[\?, 4, 4, 1\]; got shape\] \[2 16\]"):
            unchecked_run(served, "reconstruct", images=np.zeros((2, 16), np.float32))
        # an image batch of 0 rows, or with a NaN pixel, is refused by name (not deep in a layer)
        for signature in ("encode", "reconstruct"):
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match=r"images must hold at least one row; got shape\] \[0 4 4 1\]"):
                unchecked_run(served, signature, images=np.zeros((0, *shape), np.float32))
            poisoned = x.copy()
            poisoned[0, 1, 2, 0] = np.nan
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be finite"):
                unchecked_run(served, signature, images=poisoned)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must hold at least one row"):
            unchecked_run(served, "decode", z=np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("options", [
    {"coupling": "spline", "permutation": "random", "spline_bins": 4},
    {"coupling": "affine", "shift_bound": 1.0, "permutation": "lu"}])
def test_flow_options_serve_like_the_live_model(tmp_path, options):
    """Spline couplings with stored random permutations, and bounded-shift affine couplings with
    learned LU maps, export as ops that TF Serving's graph path runs: sample, encode's z0 and
    log_prob match the live model."""
    config = tiny_config("none", "dp", model={"latent_dim": 3}, prior={**options, "num_blocks": 2})
    model = build_model(config, (None, 2))
    rng = np.random.default_rng(0)
    for net in model.prior.couplings:   # a non-trivial flow (training starts at the identity)
        net.head.kernel.assign(rng.normal(scale=0.1, size=net.head.kernel.shape).astype(np.float32))
    result = savedmodel.export_model(model, str(tmp_path), max_samples=10)
    tol = dict(rtol=1e-5, atol=1e-5)
    z = rng.normal(size=(4, 3)).astype(np.float32) * 3
    with ServingSession(result.path) as served:
        drawn = served.run("sample", **sample_request(5))
        expected = model.sample(5, tf.constant(SEED), 1.0)
        for key in ("z", "z0", "images"):
            np.testing.assert_allclose(drawn[key], expected[key].numpy(), **tol)
        np.testing.assert_allclose(served.run("log_prob", z=z)["log_prob"],
                                   model.prior.log_prob(z).numpy(), **tol)
        x = rng.normal(size=(3, 2)).astype(np.float32)
        np.testing.assert_allclose(served.run("encode", images=x)["z0"],
                                   model.prior.forward(model.encode(x)[0])[0].numpy(), **tol)
    assert not np.allclose(expected["z"], expected["z0"])
