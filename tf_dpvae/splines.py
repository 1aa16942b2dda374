"""Rational-quadratic spline couplings (Durkan et al., "Neural Spline Flows", NeurIPS 2019), with the
value and the log-derivative computed in one pass.

Why not ``tfp.bijectors.RationalQuadraticSpline`` inside ``tfp.bijectors.RealNVP``: the mathematics is
the same (``tests/test_splines.py`` checks this module against it to 1e-10 in float64), but TFP locates
each input's bin with ``searchsorted`` and batched gathers, and RealNVP computes the conditioner and the
spline twice (once for the value, once for the log-determinant). Traced with its gradient, the default
6-block 2-D flow made a graph of 16,764 ops against 1,342 for the affine coupling, and tracing it took
most of a short run's time; this module's makes 3,087 (``benchmarks/flow_trace.py``). Here the bin is
chosen by comparisons and a one-hot mask (K is small), and ``SplineCoupling.forward_and_log_det`` runs
the conditioner once per block.

Conventions (those of ``tfb.RationalQuadraticSpline`` with ``range_min = −B``): K bins on the box
[−B, B]; ``widths`` and ``heights`` [..., K] are positive and each sums to 2B; ``slopes`` [..., K − 1]
are the positive derivatives at the interior knots; the derivative at ±B is 1 and outside the box the
map is the identity, so a flow of these keeps its base distribution's tails exactly.

Inside bin k, with ξ = (x − x_k) / w_k ∈ [0, 1], s_k = h_k / w_k and knot derivatives d_k, d_{k+1}
(Durkan et al. eqs. 4-6):

    y        = y_k + h_k (s_k ξ² + d_k ξ(1 − ξ)) / (s_k + (d_{k+1} + d_k − 2 s_k) ξ(1 − ξ))
    dy/dx    = s_k² (d_{k+1} ξ² + 2 s_k ξ(1 − ξ) + d_k (1 − ξ)²) / (s_k + (d_{k+1} + d_k − 2 s_k) ξ(1 − ξ))²

and the inverse solves the quadratic a ξ² + b ξ + c = 0 for ξ (their eqs. 29-33), in the numerically
stable form ξ = 2c / (−b − √(b² − 4ac)).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors


def _knots(sizes, bound):
    """Knot positions [..., K + 1] from bin sizes [..., K] that sum to 2·bound: −B, −B + Σ..., B."""
    start = tf.fill(tf.concat([tf.shape(sizes)[:-1], [1]], 0), tf.cast(-bound, sizes.dtype))
    return tf.concat([start, -bound + tf.cumsum(sizes, axis=-1)], axis=-1)


def _pick(mask, values):
    """values [..., K] at the masked bin: [...]."""
    return tf.reduce_sum(mask * values, axis=-1)


def _bin_of(t, knots, x_knots, y_knots, widths, heights, derivatives):
    """The bin that holds t [...] (clipped into the box) among ``knots`` (the x knots going forward,
    the y knots going back): (x_k, w_k, y_k, h_k, d_k, d_{k+1}), each [...]. Bin k holds
    knots_k ≤ t < knots_{k+1}; t = B falls in the last bin. Chosen by a one-hot mask, not a gather."""
    index = tf.reduce_sum(tf.cast(t[..., None] >= knots[..., 1:-1], tf.int32), axis=-1)
    mask = tf.one_hot(index, widths.shape[-1], dtype=t.dtype)
    return (_pick(mask, x_knots[..., :-1]), _pick(mask, widths), _pick(mask, y_knots[..., :-1]),
            _pick(mask, heights), _pick(mask, derivatives[..., :-1]), _pick(mask, derivatives[..., 1:]))


def _log_derivative(xi, s, d_left, d_right):
    """log dy/dx of a bin at ξ (eq. 5 of Durkan et al.): all arguments [...] → [...]."""
    mix = xi * (1.0 - xi)
    numerator = tf.square(s) * (d_right * tf.square(xi) + 2.0 * s * mix + d_left * tf.square(1.0 - xi))
    denominator = s + (d_right + d_left - 2.0 * s) * mix
    return tf.math.log(numerator) - 2.0 * tf.math.log(denominator)


def _bins(widths, heights, slopes, bound):
    """(x knots, y knots, knot derivatives) [..., K + 1] with derivative 1 at ±bound."""
    one = tf.ones_like(slopes[..., :1])
    derivatives = tf.concat([one, slopes, one], axis=-1)
    return _knots(widths, bound), _knots(heights, bound), derivatives


def rational_quadratic_spline(x, widths, heights, slopes, bound):
    """y = RQS(x) and log|dy/dx| elementwise: x [...], widths/heights [..., K], slopes [..., K − 1]
    → (y [...], log_det [...]); the identity (log_det 0) outside [−bound, bound]."""
    x_knots, y_knots, derivatives = _bins(widths, heights, slopes, bound)
    inside = tf.abs(x) <= bound
    t = tf.clip_by_value(x, -bound, bound)   # a finite value (and gradient) in the unused branch
    x_k, w_k, y_k, h_k, d_left, d_right = _bin_of(t, x_knots, x_knots, y_knots, widths, heights,
                                                  derivatives)
    s = h_k / w_k
    xi = (t - x_k) / w_k
    mix = xi * (1.0 - xi)
    y = y_k + h_k * (s * tf.square(xi) + d_left * mix) / (s + (d_right + d_left - 2.0 * s) * mix)
    log_det = _log_derivative(xi, s, d_left, d_right)
    return tf.where(inside, y, x), tf.where(inside, log_det, tf.zeros_like(log_det))


def inverse_rational_quadratic_spline(y, widths, heights, slopes, bound):
    """x = RQS⁻¹(y) and log|dx/dy| elementwise: shapes as ``rational_quadratic_spline``."""
    x_knots, y_knots, derivatives = _bins(widths, heights, slopes, bound)
    inside = tf.abs(y) <= bound
    t = tf.clip_by_value(y, -bound, bound)
    x_k, w_k, y_k, h_k, d_left, d_right = _bin_of(t, y_knots, x_knots, y_knots, widths, heights,
                                                  derivatives)
    s = h_k / w_k
    offset = t - y_k
    curvature = d_right + d_left - 2.0 * s
    a = h_k * (s - d_left) + offset * curvature
    b = h_k * d_left - offset * curvature
    c = -s * offset
    discriminant = tf.maximum(tf.square(b) - 4.0 * a * c, 0.0)
    xi = 2.0 * c / (-b - tf.sqrt(discriminant))
    x = x_k + xi * w_k
    log_det = -_log_derivative(xi, s, d_left, d_right)
    return tf.where(inside, x, y), tf.where(inside, log_det, tf.zeros_like(log_det))


class SplineCoupling(tfb.Bijector):
    """One coupling block of rational-quadratic splines: the conditioning half x0 is kept, the other
    half x1 is mapped coordinate-wise, x1 ↦ RQS(x1; θ(x0)), θ = ``network(x0)`` (widths, heights,
    slopes as ``networks.SplineCouplingNetwork`` returns them). Event shape [d]; ``num_masked`` as
    ``tfb.RealNVP``'s: m > 0, the first m coordinates condition; m < 0, the last |m| do.

    ``forward_and_log_det(x)`` gives (y, log|det ∂y/∂x| [B]) with one call of the network; the TFP
    methods (``forward``, ``inverse``, their log-determinants) are there for code that walks a chain.
    """

    def __init__(self, num_masked: int, network, bound: float, name: str = "spline_coupling"):
        parameters = dict(locals())
        self.num_masked, self.network, self.bound = num_masked, network, bound
        super().__init__(forward_min_event_ndims=1, is_constant_jacobian=False,
                         parameters=parameters, name=name)

    def _split(self, x):
        """(x0 the conditioning half, x1 the transformed half)."""
        m = self.num_masked
        if m > 0:
            return x[..., :m], x[..., m:]
        return x[..., m:], x[..., :m]

    def _join(self, x0, y1):
        return tf.concat([x0, y1] if self.num_masked > 0 else [y1, x0], axis=-1)

    def forward_and_log_det(self, x):
        """(y [B, d], Σ log|dy/dx| [B])."""
        x0, x1 = self._split(x)
        y1, log_det = rational_quadratic_spline(x1, *self.network(x0), self.bound)
        return self._join(x0, y1), tf.reduce_sum(log_det, axis=-1)

    def inverse_and_log_det(self, y):
        """(x [B, d], Σ log|dx/dy| [B])."""
        y0, y1 = self._split(y)
        x1, log_det = inverse_rational_quadratic_spline(y1, *self.network(y0), self.bound)
        return self._join(y0, x1), tf.reduce_sum(log_det, axis=-1)

    def _forward(self, x):
        return self.forward_and_log_det(x)[0]

    def _inverse(self, y):
        return self.inverse_and_log_det(y)[0]

    def _forward_log_det_jacobian(self, x):
        return self.forward_and_log_det(x)[1]

    def _inverse_log_det_jacobian(self, y):
        return self.inverse_and_log_det(y)[1]
