"""How much graph one training step's flow makes: for the default moons model's decoupled prior
(6 blocks, d = 2), the time to trace log p(z) and its gradient in a ``tf.function``, and the op count of
the gradient's graph, for the affine coupling, the spline coupling as ``splines.SplineCoupling``
computes it (the default), and the same spline as TFP's ``RealNVP`` of ``RationalQuadraticSpline``
(what the package used before; same networks, same values). One process, each traced once.

    .venv/bin/python benchmarks/flow_trace.py

Op counts are exact; trace times drift with the machine's load (compare them within one run).
"""

from __future__ import annotations

import time

import provenance  # noqa: F401  (first: this checkout on sys.path, quiet TF, the commit)
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae.model import build_model  # noqa: E402
from tf_dpvae.splines import SplineCoupling  # noqa: E402

tfb = tfp.bijectors


def tfp_log_prob(prior):
    """log p(z) through TFP's RealNVP(RationalQuadraticSpline) with the prior's own networks."""
    def step(block):
        if not isinstance(block, SplineCoupling):
            return block
        return tfb.RealNVP(num_masked=block.num_masked, bijector_fn=lambda x0, _units, n=block.network:
                           tfb.RationalQuadraticSpline(*n(x0), range_min=-block.bound))
    chain = tfb.Chain([step(b) for b in prior.steps()])
    normal = tfp.distributions.MultivariateNormalDiag(tf.zeros(prior.latent_dim))
    return lambda z: normal.log_prob(chain.forward(z)) + chain.forward_log_det_jacobian(z, 1)


def measure(log_prob, variables, batch):
    spec = tf.TensorSpec([batch, 2])   # a known batch: TFP's RealNVP needs the spline's width

    @tf.function
    def value(z):
        return tf.reduce_mean(log_prob(z))

    @tf.function
    def gradient(z):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(log_prob(z))
        return tape.gradient(loss, variables)

    start = time.perf_counter()
    value.get_concrete_function(spec)
    value_s = time.perf_counter() - start
    start = time.perf_counter()
    graph = gradient.get_concrete_function(spec).graph
    return value_s, time.perf_counter() - start, len(graph.get_operations())


def main():
    print(provenance.stamp())
    print()
    print("| flow | trace log p(z) s | trace with gradient s | ops with gradient |")
    print("|---|---:|---:|---:|")
    for name, coupling in (("affine (tfb.RealNVP)", "affine"), ("spline (splines.py, default)", "spline"),
                           ("spline (TFP RealNVP + RationalQuadraticSpline)", "tfp")):
        config = RunConfig().replace(prior={"coupling": "affine" if coupling == "affine" else "spline"})
        prior = build_model(config, (None, 2)).prior
        log_prob = tfp_log_prob(prior) if coupling == "tfp" else prior.log_prob
        value_s, gradient_s, ops = measure(log_prob, prior.trainable_variables, config.train.batch_size)
        print(f"| {name} | {value_s:.2f} | {gradient_s:.2f} | {ops:,} |")


if __name__ == "__main__":
    main()
