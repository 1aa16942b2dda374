"""Priors on the representation space z: the standard normal, the decoupled prior (paper §3), and the
Gaussian mixture fitted after training (``post_hoc``, issue 12).

All expose one interface, so the model and the objectives never ask which one they hold:

    forward(z)  -> (z0, log|det ∂z0/∂z|)     z: [B, d] → ([B, d], [B])   (z0 = g(z), density direction)
    inverse(z0) -> z                          [B, d] → [B, d]             (z = g⁻¹(z0), generation)
    log_prob(z) -> log p(z) = log N(g(z); 0, I) + log|det ∂g/∂z|    (eq. 2)   [B, d] → [B]
    base_log_prob(z) -> log N(h(z); 0, I), the density in the generation space that eq. (6)'s ratio
                        and the high-posterior ranking use (h = g; for a prior without a separate
                        generation space, its own log p(z))                  [B, d] → [B]
    sample(n, seed, temperature) -> (z, z0)   stateless: the same seed gives the same draw anywhere.

``kind`` names the prior ("normal", "dp", "gmm"); ``base_is_full_density`` says whether
``base_log_prob`` is ``log_prob`` itself (then the three leakage variants coincide).

The decoupled prior's bijection is a chain of coupling blocks (``tfp.bijectors.RealNVP`` for the affine
coupling, ``splines.SplineCoupling`` for the spline), built on demand as a stateless view over
coupling networks that are Keras 3 layers owned by this layer (TFP's own
``real_nvp_default_template`` makes TF1 variables that Keras never sees: TFP issues 355, 1282, 1439).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_dpvae.config import FLOW_COUPLINGS, FLOW_PERMUTATIONS
from tf_dpvae.divergences import gaussian_mixture_log_density, standard_normal_log_density
from tf_dpvae.networks import CouplingNetwork, SplineCouplingNetwork
from tf_dpvae.splines import SplineCoupling

tfb = tfp.bijectors


def _standard_normal_draw(num_samples, latent_dim, seed, temperature):
    """temperature · ε, ε ~ N(0, I) from a stateless generator: [n, d]."""
    seed = tf.cast(seed, tf.int32)
    eps = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=seed)
    return tf.cast(temperature, eps.dtype) * eps


class Prior(keras.layers.Layer):
    """The shared interface; subclasses implement ``forward``, ``inverse`` and ``log_prob``."""

    is_identity = False
    kind = ""
    base_is_full_density = False

    def __init__(self, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim

    def sample(self, num_samples, seed, temperature=1.0):
        """z0 = T·ε with ε ~ N(0, I) from a stateless draw, and z = g⁻¹(z0): ([n, d], [n, d])."""
        z0 = _standard_normal_draw(num_samples, self.latent_dim, seed, temperature)
        return self.inverse(z0), z0

    def base_log_prob(self, z):
        """log N(h(z); 0, I) with z0 = h(z) = ``forward(z)[0]``: [B, d] → [B]."""
        return standard_normal_log_density(self.forward(z)[0])

    def call(self, z):
        return self.log_prob(z)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class StandardNormalPrior(Prior):
    """p(z) = N(0, I): g is the identity, so z0 = z and the log-determinant is 0."""

    is_identity = True
    kind = "normal"
    base_is_full_density = True

    def forward(self, z):
        return z, tf.zeros(tf.shape(z)[:-1], z.dtype)

    def inverse(self, z0):
        return z0

    def log_prob(self, z):
        return standard_normal_log_density(z)


def random_permutations(latent_dim: int, count: int, seed: int) -> list[list[int]]:
    """``count`` permutations of range(d) drawn by ``numpy.random.default_rng(seed)``, each redrawn
    until it brings at least one transformed coordinate into the conditioning half (positions
    [0, ⌊d/2⌋)): a permutation that keeps the conditioning set would leave half of z untouched."""
    rng = np.random.default_rng(seed)
    half = latent_dim // 2
    drawn = []
    while len(drawn) < count:
        perm = rng.permutation(latent_dim)
        if set(perm[:half].tolist()) != set(range(half)):
            drawn.append(perm.tolist())
    return drawn


def random_rotation_lu(latent_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower_upper [d, d], permutation [d]) of ``tf.linalg.lu`` of a random rotation Q (QR of a
    seeded Gaussian matrix): ``tfb.ScaleMatvecLU`` starts as Q, mixing every coordinate with
    log|det Q| = 0 (Glow's initialization, Kingma & Dhariwal 2018 §3.2)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(latent_dim, latent_dim)))
    q = q * np.sign(np.diag(r))[None, :]
    lower_upper, perm = tf.linalg.lu(tf.constant(q, tf.float64))
    return lower_upper.numpy().astype(np.float32), perm.numpy().astype(np.int32)


@keras.saving.register_keras_serializable(package="tf_dpvae")
class DecoupledPrior(Prior):
    """p(z) = N(g(z); 0, I)·|det ∂g/∂z| with g = g⁽¹⁾ ∘ P⁽¹⁾ ∘ … ∘ P⁽ᴷ⁻¹⁾ ∘ g⁽ᴷ⁾ (paper eqs. 2-4).

    Coupling block k keeps its conditioning half x0 and maps the other half x1 elementwise:

      coupling "affine" (eq. 3): x1 ↦ x1·exp(s_k(x0)) + t_k(x0), |s_k| ≤ scale_bound, and
        |t_k| ≤ shift_bound when it is > 0 (``CouplingNetwork``); log-det Σ_l s_k^l.
      coupling "spline": x1 ↦ RQS_k(x1; x0), a monotone rational-quadratic spline (Durkan et al.
        2019) with ``spline_bins`` bins on [−B, B], B = ``spline_bound``, and the identity outside
        (``splines.SplineCoupling``, ``SplineCouplingNetwork``). It maps the box onto itself,
        so |g⁻¹(z0)_i| ≤ max(B, max_j |z0_j|): prior samples keep N(0, I)'s tails exactly.
        B = 5 by default: N(0, 1) puts 5.7e-7 of its mass outside ±5, so nearly every draw z0 is
        shaped by the splines, and the codes of a KL-regularized encoder lie well inside; a wider
        box only spends bins on empty space (choose it to cover the codes, design.md wave 3).

    Between blocks, P⁽ᵏ⁾ mixes the coordinates (for d > 2 alternating halves never mix within one):
      "alternate": no P; even blocks condition on the first ⌊d/2⌋ coordinates, odd on the last
        ⌈d/2⌉ (the default, the paper's; every coordinate is transformed).
      "reverse": P reverses the order; "random": fixed permutations drawn from
        ``permutation_seed`` (the run's seed) and held as non-trainable variables, so checkpoints
        and exports carry them;
      "lu": a learned invertible linear map P·L·U (``tfb.ScaleMatvecLU``, Glow), started at a random
        rotation; its log-det Σ log|U_ii| joins the sum.
    With a P every block conditions on the first ⌊d/2⌋ coordinates. The chain's log-determinant is
    the sum of the blocks' (and the LU maps'), the term of eq. (5).
    """

    kind = "dp"

    def __init__(self, latent_dim: int, num_blocks: int = 6, hidden_units: int = 64,
                 hidden_layers: int = 2, scale_bound: float = 1.0, shift_bound: float = 0.0,
                 coupling: str = "affine", spline_bins: int = 8, spline_bound: float = 5.0,
                 permutation: str = "alternate", permutation_seed: int = 0, **kwargs):
        if latent_dim < 2:
            raise ValueError(f"the decoupled prior needs latent_dim >= 2, got {latent_dim}")
        if coupling not in FLOW_COUPLINGS or permutation not in FLOW_PERMUTATIONS:
            raise ValueError(f"coupling must be one of {FLOW_COUPLINGS} and permutation one of "
                             f"{FLOW_PERMUTATIONS}; got {coupling!r}, {permutation!r}")
        super().__init__(latent_dim, **kwargs)
        self.num_blocks, self.hidden_units, self.hidden_layers = num_blocks, hidden_units, hidden_layers
        self.scale_bound, self.shift_bound = scale_bound, shift_bound
        self.coupling, self.spline_bins, self.spline_bound = coupling, spline_bins, spline_bound
        self.permutation, self.permutation_seed = permutation, permutation_seed
        first_half = latent_dim // 2
        # RealNVP's num_masked: positive = the first units condition, negative = the last units do.
        self.num_masked = [first_half if k % 2 == 0 or permutation != "alternate"
                           else -(latent_dim - first_half) for k in range(num_blocks)]
        self.couplings = [self._coupling_network(latent_dim - abs(m), f"coupling_{k}")
                          for k, m in enumerate(self.num_masked)]

    def _coupling_network(self, units, name):
        if self.coupling == "spline":
            return SplineCouplingNetwork(units, self.spline_bins, self.spline_bound,
                                         self.hidden_units, self.hidden_layers, name=name)
        return CouplingNetwork(units, self.hidden_units, self.hidden_layers, self.scale_bound,
                               self.shift_bound, name=name)

    def build(self, input_shape=None):
        for coupling, masked in zip(self.couplings, self.num_masked):
            coupling.build((None, abs(masked)))
        self.mixers = []   # the P⁽ᵏ⁾'s variables, k = 1..K−1 (none for alternate and reverse)
        gaps, d, seed = self.num_blocks - 1, self.latent_dim, self.permutation_seed
        if self.permutation == "random":
            self.mixers = [self._constant_weight(f"permutation_{k}", np.array(p, np.int32), False)
                           for k, p in enumerate(random_permutations(d, gaps, seed))]
        elif self.permutation == "lu":
            for k in range(gaps):
                lower_upper, perm = random_rotation_lu(d, seed * 1000 + k)
                lower_upper = lower_upper.astype(self.variable_dtype)
                self.mixers.append((self._constant_weight(f"lower_upper_{k}", lower_upper, True),
                                    self._constant_weight(f"lu_permutation_{k}", perm, False)))
        self.built = True

    def _constant_weight(self, name, value, trainable):
        return self.add_weight(name=name, shape=value.shape, dtype=str(value.dtype),
                               trainable=trainable,
                               initializer=lambda shape, dtype=None: tf.constant(value, dtype))

    def _mixer(self, k):
        """P⁽ᵏ⁺¹⁾ as a bijector, or None for "alternate"."""
        if self.permutation == "reverse":
            return tfb.Permute(list(range(self.latent_dim - 1, -1, -1)), name=f"permute_{k}")
        if self.permutation == "random":
            return tfb.Permute(tf.convert_to_tensor(self.mixers[k]), name=f"permute_{k}")
        if self.permutation == "lu":
            lower_upper, perm = (tf.convert_to_tensor(v) for v in self.mixers[k])
            return tfb.ScaleMatvecLU(lower_upper, perm, name=f"lu_{k}")
        return None

    def _coupling_bijector(self, k):
        net, masked = self.couplings[k], self.num_masked[k]
        if self.coupling == "spline":
            return SplineCoupling(masked, net, self.spline_bound, name=f"coupling_{k}")
        return tfb.RealNVP(num_masked=masked,
                           shift_and_log_scale_fn=lambda x0, _units, net=net: net(x0),
                           name=f"coupling_{k}")

    def steps(self) -> list:
        """The chain's bijectors in generation order (z0 → z): coupling_0, P, coupling_1, …; fresh
        views (TFP caches results per bijector instance, and a long-lived instance would hold on to
        tensors of past steps)."""
        if not self.built:
            self.build()
        steps = []
        for k in range(self.num_blocks):
            mixer = self._mixer(k - 1) if k > 0 else None
            steps += ([mixer] if mixer is not None else []) + [self._coupling_bijector(k)]
        return steps

    def bijector(self):
        """g as a TFP bijector (forward: z → z0)."""
        # Chain applies its last element first: g = g⁽¹⁾ ∘ … ∘ g⁽ᴷ⁾, as in eq. (4).
        return tfb.Chain(self.steps(), name="decoupled_prior")

    def forward_steps(self, z) -> list:
        """[(name, log|det| [B])] of every step of g in the density direction z → z0 (the chain's
        last element first); their sum is ``forward(z)[1]``."""
        return [(name, log_det) for name, _, log_det in self._walk_forward(z)]

    def _walk_forward(self, z):
        """Yields (name, output [B, d], log|det| [B]) of each step of g, z → z0, one at a time: each
        block sees an input of known width, and a spline block runs its network once for both."""
        for step in self.steps()[::-1]:
            if isinstance(step, SplineCoupling):
                z, log_det = step.forward_and_log_det(z)
            else:
                log_det = step.forward_log_det_jacobian(z, event_ndims=1)
                z = step.forward(z)
            z = self._known_width(z)
            yield step.name, z, log_det

    def _known_width(self, x):
        """``x`` with its last dimension's static size set to d. A rational-quadratic spline's output
        loses it in a graph whose batch size is unknown (a SavedModel signature), and the next
        coupling block (``tfb.RealNVP``) refuses an input of unknown width."""
        if x.shape.rank is None:
            return x
        return tf.ensure_shape(x, x.shape[:-1].concatenate([self.latent_dim]))

    def forward(self, z):
        if self.coupling != "spline":
            g = self.bijector()
            return g.forward(z), g.forward_log_det_jacobian(z, event_ndims=1)
        log_det = 0.0
        for _, z, step_log_det in self._walk_forward(z):
            log_det += step_log_det
        return z, log_det

    def inverse(self, z0):
        if self.coupling != "spline":
            return self.bijector().inverse(z0)
        for step in self.steps():
            z0 = self._known_width(step.inverse(z0))
        return z0

    def log_prob(self, z):
        z0, log_det = self.forward(z)
        return standard_normal_log_density(z0) + log_det

    def get_config(self):
        return {**super().get_config(), "num_blocks": self.num_blocks, "hidden_units": self.hidden_units,
                "hidden_layers": self.hidden_layers, "scale_bound": self.scale_bound,
                "shift_bound": self.shift_bound, "coupling": self.coupling,
                "spline_bins": self.spline_bins, "spline_bound": self.spline_bound,
                "permutation": self.permutation, "permutation_seed": self.permutation_seed}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class GaussianMixturePrior(Prior):
    """p(z) = Σ_k π_k N(z; μ_k, L_k L_kᵀ): a full-covariance Gaussian mixture fitted to a trained
    model's codes after training (ex-post density estimation, Ghosh et al. 2020; ``post_hoc.fit_gmm``).

    Its parameters are non-trainable variables (``logits`` [K], ``means`` [K, d], ``scale_tril``
    [K, d, d]), so checkpoints hold them and an exported graph reads them; until ``assign`` they
    describe K copies of N(0, I). Sampling is stateless and in-graph: the seed is split in two
    (``tf.random.experimental.stateless_split``), k ~ Categorical(π) by ``stateless_categorical``
    with the first, ε ~ N(0, I) by ``stateless_normal`` with the second, z = μ_k + T·L_k ε.

    There is no separate generation space: h is the identity (z0 = z, ``inverse`` is the identity),
    ``base_log_prob`` is log p(z) itself (so eq. 6's ratio is against the mixture, as for N(0, I)
    with h = id), and ``forward``'s second output is the log-density ratio log p(z) − log N(z; 0, I),
    which for a flow is exactly log|det ∂g/∂z| (eq. 2): log N(z0; 0, I) + that ratio = log p(z), so
    the model's eq. (5) KL is right with this prior too.

    Args:
      latent_dim: Python ``int`` ≥ 1, d.
      num_components: Python ``int`` ≥ 1, K.

    Raises:
      ValueError: ``num_components`` is not a positive integer.

    #### References
    Ghosh, Sajjadi, Vergari, Black, Schölkopf. From variational to deterministic autoencoders.
    ICLR 2020. https://arxiv.org/abs/1903.12436
    """

    kind = "gmm"
    base_is_full_density = True

    def __init__(self, latent_dim: int, num_components: int = 1, **kwargs):
        if not isinstance(num_components, int) or isinstance(num_components, bool) or num_components < 1:
            raise ValueError(f"num_components must be a positive integer, got {num_components!r}")
        super().__init__(latent_dim, **kwargs)
        self.num_components = num_components

    def build(self, input_shape=None):
        k, d = self.num_components, self.latent_dim
        self.logits = self.add_weight(name="logits", shape=(k,), initializer="zeros", trainable=False)
        self.means = self.add_weight(name="means", shape=(k, d), initializer="zeros", trainable=False)
        eye = tf.eye(d, batch_shape=[k])
        self.scale_tril = self.add_weight(name="scale_tril", shape=(k, d, d),
                                          initializer=lambda shape, dtype=None: tf.cast(eye, dtype),
                                          trainable=False)
        self.built = True

    def assign(self, weights, means, covariances):
        """Set the mixture: weights [K] (positive, summing to 1), means [K, d], covariances [K, d, d]
        (symmetric positive definite; stored as their Cholesky factors)."""
        if not self.built:
            self.build()
        self.logits.assign(tf.math.log(tf.constant(weights, tf.float32)))
        self.means.assign(tf.constant(means, tf.float32))
        self.scale_tril.assign(tf.linalg.cholesky(tf.constant(covariances, tf.float64))
                               .numpy().astype("float32"))

    def forward(self, z):
        return z, self.log_prob(z) - standard_normal_log_density(z)

    def inverse(self, z0):
        return z0

    def log_prob(self, z):
        return gaussian_mixture_log_density(z, self.logits, self.means, self.scale_tril)

    def base_log_prob(self, z):
        return self.log_prob(z)

    def sample(self, num_samples, seed, temperature=1.0):
        """k ~ Categorical(π), ε ~ N(0, I), z = μ_k + T·L_k ε, both drawn statelessly from ``seed``
        (int32 [2]) split in two: ([n, d], z0 = z [n, d])."""
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)    # [2, 2]
        k = tf.random.stateless_categorical(self.logits[None, :], num_samples, seed=seeds[0],
                                            dtype=tf.int32)[0]                           # [n]
        eps = tf.random.stateless_normal(tf.stack([num_samples, self.latent_dim]), seed=seeds[1])
        spread = tf.linalg.matvec(tf.gather(self.scale_tril, k), eps)                   # [n, d]
        z = tf.gather(self.means, k) + tf.cast(temperature, eps.dtype) * spread
        return z, z

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def make_prior(kind: str, latent_dim: int, num_components: int = 1,
               **flow_kwargs) -> keras.layers.Layer:
    """The prior named by ``kind`` ('normal', 'dp' or 'gmm'); flow_kwargs go to ``DecoupledPrior``,
    ``num_components`` to ``GaussianMixturePrior``."""
    if kind == "normal":
        return StandardNormalPrior(latent_dim, name="prior")
    if kind == "dp":
        return DecoupledPrior(latent_dim, name="prior", **flow_kwargs)
    if kind == "gmm":
        return GaussianMixturePrior(latent_dim, num_components, name="prior")
    raise ValueError(f"prior must be 'dp' or 'normal' (or 'gmm', fitted after training), "
                     f"got {kind!r}")
