import numpy as np
import tensorflow as tf

from tf_dpvae.networks import (MIN_BIN_FRACTION, MIN_KNOT_SLOPE, CouplingNetwork, Discriminator,
                               MLPDecoder, MLPEncoder, SplineCouplingNetwork)


def test_shapes():
    x = tf.zeros([5, 7])
    mean, log_var = MLPEncoder(3, 8, 2)(x)
    assert mean.shape == (5, 3) and log_var.shape == (5, 3)
    assert MLPDecoder(7, 8, 2)(mean).shape == (5, 7)
    assert Discriminator(8, 2)(mean).shape == (5, 2)
    shift, log_scale = CouplingNetwork(2, 8, 2)(tf.zeros([5, 1]))
    assert shift.shape == (5, 2) and log_scale.shape == (5, 2)


def test_coupling_starts_at_identity_and_is_bounded():
    net = CouplingNetwork(2, 8, 2, scale_bound=0.3)
    shift, log_scale = net(tf.random.normal([4, 3]))
    np.testing.assert_array_equal(shift, 0)
    np.testing.assert_array_equal(log_scale, 0)
    net.head.kernel.assign(tf.fill(net.head.kernel.shape, 50.0))
    _, log_scale = net(tf.random.normal([4, 3]) + 1)
    assert np.all(np.abs(log_scale) <= 0.3 + 1e-6)


def test_configs_round_trip():
    for layer in (MLPEncoder(3, 8, 2), MLPDecoder(7, 8, 2), Discriminator(8, 2),
                  CouplingNetwork(2, 8, 2, 0.5)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_bounded_shift_and_its_default_linear_shift():
    """shift_bound = 0 (default) leaves t linear; shift_bound > 0 gives t = shift_bound·tanh(raw)."""
    linear, bounded = CouplingNetwork(2, 8, 2), CouplingNetwork(2, 8, 2, shift_bound=0.7)
    x = tf.random.stateless_normal([4, 3], seed=[1, 2]) + 1
    for net in (linear, bounded):
        net(x)
        net.head.kernel.assign(tf.fill(net.head.kernel.shape, 50.0))
    assert np.abs(linear(x)[0]).max() > 10
    shift = bounded(x)[0].numpy()
    assert np.all(np.abs(shift) <= 0.7) and np.abs(shift).max() > 0.69


def test_spline_network_starts_as_the_identity_and_keeps_its_constraints():
    net = SplineCouplingNetwork(3, num_bins=4, bound=2.0, hidden_units=8)
    widths, heights, slopes = net(tf.random.stateless_normal([5, 2], seed=[3, 4]))
    assert widths.shape == heights.shape == (5, 3, 4) and slopes.shape == (5, 3, 3)
    np.testing.assert_allclose(widths, 1.0, rtol=1e-6)     # 2B / K: equal bins
    np.testing.assert_allclose(heights, 1.0, rtol=1e-6)
    np.testing.assert_allclose(slopes, 1.0, rtol=1e-6)     # with equal bins: the identity spline
    net.head.kernel.assign(np.random.default_rng(0).normal(scale=30.0, size=net.head.kernel.shape)
                           .astype(np.float32))
    widths, heights, slopes = net(tf.random.stateless_normal([5, 2], seed=[3, 4]))
    np.testing.assert_allclose(tf.reduce_sum(widths, -1), 4.0, rtol=1e-5)   # sum to 2B
    np.testing.assert_allclose(tf.reduce_sum(heights, -1), 4.0, rtol=1e-5)
    assert widths.numpy().min() >= 4.0 * MIN_BIN_FRACTION * (1 - 1e-4)
    assert slopes.numpy().min() >= MIN_KNOT_SLOPE * (1 - 1e-4)


def test_new_coupling_configs_round_trip():
    for layer in (CouplingNetwork(2, 8, 2, 0.5, shift_bound=1.0), SplineCouplingNetwork(2, 5, 3.0, 8, 1)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
