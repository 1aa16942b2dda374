"""splines.py against independent answers: TFP's RationalQuadraticSpline and RealNVP (the same
mathematics, computed another way), autodiff's derivative, and the identity outside the box."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_dpvae.networks import SplineCouplingNetwork
from tf_dpvae.splines import (SplineCoupling, inverse_rational_quadratic_spline,
                              rational_quadratic_spline)

tfb = tfp.bijectors
BOUND = 3.0


def random_parameters(rng, shape, num_bins, dtype=tf.float32):
    """widths, heights [shape + K] summing to 2·BOUND, slopes [shape + K − 1] > 0: uneven bins (a bin
    as narrow as 1e-3 of the box and slopes from 0.1 to 10: the inverse is then ill-conditioned
    in float32, for TFP as for us, so the round trip is checked in float64)."""
    def sizes():
        p = rng.dirichlet(np.full(num_bins, 0.7), size=shape) + 1e-3
        return 2 * BOUND * p / p.sum(-1, keepdims=True)
    slopes = np.exp(rng.normal(scale=0.8, size=shape + (num_bins - 1,)))
    return tuple(tf.constant(a, dtype) for a in (sizes(), sizes(), slopes))


@pytest.mark.parametrize("num_bins", [2, 5, 8])
def test_matches_tfp_rational_quadratic_spline_both_ways(num_bins):
    rng = np.random.default_rng(num_bins)
    params = random_parameters(rng, (400, 3), num_bins, tf.float64)
    x = tf.constant(rng.uniform(-1.3 * BOUND, 1.3 * BOUND, size=(400, 3)), tf.float64)
    # fresh TFP bijectors per call: TFP caches, and would hand back x itself for inverse(forward(x))
    def reference():
        return tfb.RationalQuadraticSpline(*params, range_min=-BOUND)
    y, log_det = rational_quadratic_spline(x, *params, BOUND)
    np.testing.assert_allclose(y, reference().forward(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_det, reference().forward_log_det_jacobian(x, event_ndims=0),
                               rtol=1e-9, atol=1e-9)
    y_fresh = tf.constant(y.numpy())
    x_back, inverse_log_det = inverse_rational_quadratic_spline(y_fresh, *params, BOUND)
    np.testing.assert_allclose(x_back, x, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(x_back, reference().inverse(y_fresh), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(inverse_log_det, -log_det, rtol=1e-8, atol=1e-8)
    # float32, the dtype of training: the forward map agrees with TFP's to float rounding
    params32 = tuple(tf.cast(p, tf.float32) for p in params)
    x32 = tf.cast(x, tf.float32)
    np.testing.assert_allclose(rational_quadratic_spline(x32, *params32, BOUND)[0],
                               tfb.RationalQuadraticSpline(*params32, range_min=-BOUND).forward(x32),
                               rtol=1e-5, atol=1e-5)


def test_log_det_is_autodiffs_derivative_and_the_identity_outside_the_box():
    rng = np.random.default_rng(1)
    params = random_parameters(rng, (300,), 6)
    x = tf.constant(np.concatenate([rng.uniform(-BOUND, BOUND, 200),
                                    rng.uniform(BOUND, 1e6, 50) * rng.choice([-1, 1], 50),
                                    [BOUND, -BOUND] * 25]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, log_det = rational_quadratic_spline(x, *params, BOUND)
    derivative = tape.gradient(y, x)   # elementwise map: the gradient of Σy is dy/dx
    np.testing.assert_allclose(log_det, np.log(derivative), rtol=1e-4, atol=1e-4)
    outside = np.abs(x.numpy()) > BOUND
    np.testing.assert_array_equal(y.numpy()[outside], x.numpy()[outside])
    np.testing.assert_array_equal(log_det.numpy()[outside], 0.0)
    # continuous at the edges of the box, and finite everywhere, gradients included
    np.testing.assert_allclose(y.numpy()[250:], x.numpy()[250:], atol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(params)
        total = tf.reduce_sum(rational_quadratic_spline(x * 1e3, *params, BOUND)[1])
    assert all(np.all(np.isfinite(g)) for g in tape.gradient(total, params))


@pytest.mark.parametrize("num_masked", [1, 2, -1, -3])
def test_coupling_matches_tfp_real_nvp_with_the_same_network(num_masked):
    d = 4
    # every weight seeded, not only the head's: left to the RNG state of whichever tests ran before
    # (the order changes with the files' split between workers), 1 draw in 160 (40 seeds × these 4
    # cases) puts a point where float32's inverse misses 1e-4 (by 5.7e-4 once in CI)
    keras.utils.set_random_seed(abs(num_masked))
    net = SplineCouplingNetwork(d - abs(num_masked), num_bins=5, bound=BOUND, hidden_units=8)
    net.build((None, abs(num_masked)))
    rng = np.random.default_rng(abs(num_masked))
    head_kernel = net.head.kernel
    # uneven bins and slopes, not so extreme that float32's inverse loses digits (see above)
    head_kernel.assign(rng.normal(scale=0.15, size=head_kernel.shape).astype("float32"))
    ours = SplineCoupling(num_masked, net, BOUND)
    reference = tfb.RealNVP(num_masked=num_masked, bijector_fn=lambda x0, _units: tfb.RationalQuadraticSpline(
        *net(x0), range_min=-BOUND))
    z = tf.constant(rng.normal(scale=2.0, size=(64, d)), tf.float32)
    y, log_det = ours.forward_and_log_det(z)
    np.testing.assert_allclose(y, reference.forward(z), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_det, reference.forward_log_det_jacobian(z, event_ndims=1),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.inverse(y), z, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.inverse_log_det_jacobian(y, event_ndims=1), -log_det,
                               rtol=1e-4, atol=1e-4)
    kept = slice(0, num_masked) if num_masked > 0 else slice(d + num_masked, d)
    np.testing.assert_array_equal(y.numpy()[:, kept], z.numpy()[:, kept])


def test_a_traced_gradient_is_a_small_graph():
    """Why this module exists: the graph of a 2-block flow's log-density gradient, ours against
    TFP's RealNVP of RationalQuadraticSpline with the same networks (op counts, not times)."""
    d, nets = 2, []
    for k in range(2):   # the ratio is per block; TFP's side of a 6-block flow takes ~40 s to trace
        net = SplineCouplingNetwork(1, num_bins=8, bound=5.0, hidden_units=16)
        net.build((None, 1))
        nets.append(net)
    masks = [1, -1]
    ours = [SplineCoupling(m, n, 5.0) for m, n in zip(masks, nets)]
    theirs = tfb.Chain([tfb.RealNVP(num_masked=m, bijector_fn=lambda x0, _u, n=n:
                                    tfb.RationalQuadraticSpline(*n(x0), range_min=-5.0))
                        for m, n in zip(masks, nets)][::-1])
    variables = [v for n in nets for v in n.trainable_variables]

    def log_det_ours(z):   # the walk of DecoupledPrior.forward: one network call per block
        total = 0.0
        for block in ours:
            z, log_det = block.forward_and_log_det(z)
            total += log_det
        return total

    def ops(log_det):
        @tf.function
        def loss_and_gradient(z):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(log_det(z))
            return tape.gradient(loss, variables)
        # a known batch size: TFP's RealNVP refuses the spline's output of unknown width otherwise
        graph = loss_and_gradient.get_concrete_function(tf.TensorSpec([64, d])).graph
        return len(graph.get_operations())

    z = tf.random.normal([64, d], seed=0)
    np.testing.assert_allclose(log_det_ours(z), theirs.forward_log_det_jacobian(z, event_ndims=1),
                               rtol=1e-5, atol=1e-5)
    counts = ops(log_det_ours), ops(lambda z: theirs.forward_log_det_jacobian(z, event_ndims=1))
    assert counts[0] * 4 < counts[1], counts
