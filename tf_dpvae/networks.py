"""Network architectures only (no losses): encoders, decoders, the FactorVAE discriminator and the
coupling networks of the decoupled prior. All are Keras 3 layers or models, so their weights are
tracked, checkpointed and exported with the model that owns them.
"""

from __future__ import annotations

import math

import keras

from tf_dpvae.errors import UserError


def _dense_stack(units: int, layers: int, activation, name: str) -> list:
    return [keras.layers.Dense(units, activation=activation, name=f"{name}_{i}") for i in range(layers)]


@keras.saving.register_keras_serializable(package="tf_dpvae")
class MLPEncoder(keras.Model):
    """q(z|x) = N(μ(x), diag σ²(x)) for vector data: x [B, D] → (μ [B, d], log σ² [B, d])."""

    def __init__(self, latent_dim: int, hidden_units: int = 128, hidden_layers: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.hidden_units = hidden_units
        self.hidden_layers = hidden_layers
        self.hidden = _dense_stack(hidden_units, hidden_layers, "relu", "enc")
        self.head = keras.layers.Dense(2 * latent_dim, name="enc_head")

    def call(self, x):
        h = x
        for layer in self.hidden:
            h = layer(h)
        mean, log_var = keras.ops.split(self.head(h), 2, axis=-1)
        return mean, log_var

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": self.hidden_units, "hidden_layers": self.hidden_layers}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class MLPDecoder(keras.Model):
    """p(x|z) parameters for vector data: z [B, d] → [B, D] (the mean, or the logits if Bernoulli)."""

    def __init__(self, output_dim: int, hidden_units: int = 128, hidden_layers: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.hidden_units = hidden_units
        self.hidden_layers = hidden_layers
        self.hidden = _dense_stack(hidden_units, hidden_layers, "relu", "dec")
        self.head = keras.layers.Dense(output_dim, name="dec_head")

    def call(self, z):
        h = z
        for layer in self.hidden:
            h = layer(h)
        return self.head(h)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim,
                "hidden_units": self.hidden_units, "hidden_layers": self.hidden_layers}


class _Conditioner(keras.layers.Layer):
    """The network shared by the coupling blocks: x0 [B, m] → ``hidden_layers`` Dense(hidden_units)
    with LeakyReLU(0.01) → a zero-initialized ``head`` of ``head_units`` raw outputs, which each
    block turns into its bijector's parameters (``call``)."""

    def __init__(self, output_units: int, head_units: int, hidden_units: int = 64,
                 hidden_layers: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.output_units = output_units
        self.hidden_units = hidden_units
        self.hidden_layers = hidden_layers
        self.hidden = [keras.layers.Dense(hidden_units, name=f"hidden_{i}")
                       for i in range(hidden_layers)]
        self.activation = keras.layers.LeakyReLU(negative_slope=0.01)
        self.head = keras.layers.Dense(head_units, kernel_initializer="zeros", name="head")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (self.hidden_units,)
        self.head.build(shape)

    def raw(self, x0):
        """The head's raw outputs [B, head_units]."""
        h = x0
        for layer in self.hidden:
            h = self.activation(layer(h))
        return self.head(h)

    def get_config(self):
        return {**super().get_config(), "output_units": self.output_units,
                "hidden_units": self.hidden_units, "hidden_layers": self.hidden_layers}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class CouplingNetwork(_Conditioner):
    """(shift t_k, log-scale s_k) of one affine coupling block (paper eq. 3) from its conditioning half.

    x0 [B, m] → (t [B, n], s [B, n]); s = scale_bound·tanh(raw) keeps every block's scaling within
    e^{±scale_bound}, so the flow cannot blow up early in training. The shift is linear, t = raw, when
    ``shift_bound`` is 0 (the default), else t = shift_bound·tanh(raw): the authors' code ends both of
    its nets in tanh (shift_bound = 1), which caps each block's translation. The output layer starts at
    zero, so each block, and the whole flow, starts as the identity map: training begins from the
    ordinary VAE.
    """

    def __init__(self, output_units: int, hidden_units: int = 64, hidden_layers: int = 2,
                 scale_bound: float = 1.0, shift_bound: float = 0.0, **kwargs):
        super().__init__(output_units, 2 * output_units, hidden_units, hidden_layers, **kwargs)
        self.scale_bound = scale_bound
        self.shift_bound = shift_bound

    def call(self, x0):
        shift, raw_log_scale = keras.ops.split(self.raw(x0), 2, axis=-1)
        if self.shift_bound > 0:
            shift = self.shift_bound * keras.ops.tanh(shift)
        return shift, self.scale_bound * keras.ops.tanh(raw_log_scale)

    def get_config(self):
        return {**super().get_config(), "scale_bound": self.scale_bound,
                "shift_bound": self.shift_bound}


# Smallest bin, as a fraction of the box's width, and smallest knot slope of the spline couplings (the
# defaults of Durkan et al.'s nflows): they keep every bin's rational-quadratic map strictly monotone.
MIN_BIN_FRACTION = 1e-3
MIN_KNOT_SLOPE = 1e-3


@keras.saving.register_keras_serializable(package="tf_dpvae")
class SplineCouplingNetwork(_Conditioner):
    """The parameters of one rational-quadratic spline coupling (Durkan et al. 2019, eqs. 4-6) from
    its conditioning half: x0 [B, m] → (widths [B, n, K], heights [B, n, K], slopes [B, n, K − 1]).

    Each of the n transformed coordinates gets a monotone spline on the box [−bound, bound] with K bins:

        widths  = 2·bound·(ε + (1 − K·ε)·softmax(a))          (sum to 2·bound, each ≥ 2·bound·ε)
        heights = 2·bound·(ε + (1 − K·ε)·softmax(b))
        slopes  = δ + softplus(c + log(e^{1−δ} − 1))           (interior knot derivatives ≥ δ)

    with ε = ``MIN_BIN_FRACTION`` and δ = ``MIN_KNOT_SLOPE``. The head starts at zero, so the bins are
    equal, every slope is 1 and the spline, like the affine block, starts as the identity map.
    """

    def __init__(self, output_units: int, num_bins: int = 8, bound: float = 5.0,
                 hidden_units: int = 64, hidden_layers: int = 2, **kwargs):
        super().__init__(output_units, output_units * (3 * num_bins - 1), hidden_units,
                         hidden_layers, **kwargs)
        self.num_bins = num_bins
        self.bound = bound

    def call(self, x0):
        k = self.num_bins
        raw = keras.ops.reshape(self.raw(x0), (-1, self.output_units, 3 * k - 1))   # [B, n, 3K − 1]
        width, eps = 2.0 * self.bound, MIN_BIN_FRACTION
        widths = width * (eps + (1.0 - k * eps) * keras.ops.softmax(raw[..., :k], axis=-1))
        heights = width * (eps + (1.0 - k * eps) * keras.ops.softmax(raw[..., k:2 * k], axis=-1))
        offset = math.log(math.expm1(1.0 - MIN_KNOT_SLOPE))   # softplus(offset) + δ = 1
        slopes = MIN_KNOT_SLOPE + keras.ops.softplus(raw[..., 2 * k:] + offset)
        return widths, heights, slopes

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "bound": self.bound}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class Discriminator(keras.Model):
    """FactorVAE's density-ratio discriminator on the representation z: [B, d] → logits [B, 2].

    Class 0 = a sample of q(z), class 1 = a sample of Π_k q(z_k) (dimensions permuted across the batch),
    so TC ≈ E_q[logit_0 − logit_1] (Kim & Mnih 2018, eq. 3). LeakyReLU(0.2) hidden layers, as theirs.
    """

    def __init__(self, hidden_units: int = 1000, hidden_layers: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.hidden_layers = hidden_layers
        self.hidden = _dense_stack(hidden_units, hidden_layers, None, "disc")
        self.activation = keras.layers.LeakyReLU(negative_slope=0.2)
        self.head = keras.layers.Dense(2, name="disc_head")

    def call(self, z):
        h = z
        for layer in self.hidden:
            h = self.activation(layer(h))
        return self.head(h)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "hidden_layers": self.hidden_layers}


# --------------------------------------------------------------------------- convolutional networks
# Layer plans, filters as multiples of ``conv_filters`` (f) and dense widths in ``conv_units`` (u).
# A conv entry is (filters multiple, kernel, stride, padding). PyTorch's "k4 s2 p1" equals Keras's
# "same" for these even sizes (28→14, 6→12, ...), "p0" equals "valid". ReLU after every layer but
# the last of each network; the decoder's output is linear (the mean, or the Bernoulli logits).
CONV_ARCHS = {
    # shared/reference-code.md §2a (BetaVAE_MNIST): 28→14→12→6→4, 4·4·f = 512 features at f = 32.
    "beta_mnist": {
        "size": 28,
        "encoder": [(1, 4, 2, "same"), (1, 3, 1, "valid"), (1, 4, 2, "same"), (1, 3, 1, "valid")],
        "encoder_dense": 2,
        "base": (4, 4, 1),
        "decoder_dense": 2,
        "decoder": [(1, 3, 1, "valid"), (1, 4, 2, "same"), (1, 3, 1, "valid")],
        "last": (4, 2, "same"),
    },
    # §2b (FactorMNIST): 28→14→12→6→4→1 with 32, 64, 64, 256, 256 filters at f = 32; no dense hidden
    # layer in the encoder, one dense layer of 8f (the reference's 256) in the decoder.
    "factor_mnist": {
        "size": 28,
        "encoder": [(1, 4, 2, "same"), (2, 3, 1, "valid"), (2, 4, 2, "same"), (8, 3, 1, "valid"),
                    (8, 4, 1, "valid")],
        "encoder_dense": 0,
        "base": (1, 1, 8),
        "decoder_dense": 0,
        "decoder": [(8, 4, 1, "valid"), (2, 3, 1, "valid"), (2, 4, 2, "same"), (1, 3, 1, "valid")],
        "last": (4, 2, "same"),
    },
    # The 64×64 β-VAE network (Higgins et al. 2017, CelebA; Burgess et al. 2018): four k4 s2 convs
    # with 32, 32, 64, 64 filters (64→32→16→8→4), one dense layer of 256; the decoder mirrors it.
    "conv64": {
        "size": 64,
        "encoder": [(1, 4, 2, "same"), (1, 4, 2, "same"), (2, 4, 2, "same"), (2, 4, 2, "same")],
        "encoder_dense": 1,
        "base": (4, 4, 2),
        "decoder_dense": 1,
        "decoder": [(2, 4, 2, "same"), (1, 4, 2, "same"), (1, 4, 2, "same")],
        "last": (4, 2, "same"),
    },
    # The same network one stride shorter for 32×32 (SVHN, CIFAR): 32→16→8→4.
    "conv32": {
        "size": 32,
        "encoder": [(1, 4, 2, "same"), (2, 4, 2, "same"), (2, 4, 2, "same")],
        "encoder_dense": 1,
        "base": (4, 4, 2),
        "decoder_dense": 1,
        "decoder": [(2, 4, 2, "same"), (1, 4, 2, "same")],
        "last": (4, 2, "same"),
    },
}
AUTO_ARCH_BY_SIZE = {28: "beta_mnist", 32: "conv32", 64: "conv64"}


class ArchitectureError(UserError):
    """No network of the requested family fits the data's shape; the message says what does."""


def choose_arch(arch: str, example_shape) -> str:
    """The network family for data of ``example_shape`` (without the batch axis).

    auto: vectors [D] → mlp; images [S, S, C] → beta_mnist (S = 28), conv32 (32) or conv64 (64).
    An explicit family is checked against the shape.
    """
    shape = tuple(int(d) for d in example_shape)
    sizes = ", ".join(f"{s}×{s} ({a})" for s, a in AUTO_ARCH_BY_SIZE.items())
    if len(shape) == 1:
        if arch in ("auto", "mlp"):
            return "mlp"
        raise ArchitectureError(f"arch {arch!r} is convolutional and takes images [H, W, C]; the "
                                f"data are vectors of shape {shape}: use --arch mlp or auto")
    if len(shape) != 3:
        raise ArchitectureError(f"no network for data of shape {shape}: the MLP takes vectors [D], "
                                f"the convolutional networks images [H, W, C]")
    if arch == "mlp":
        raise ArchitectureError(f"arch 'mlp' takes vectors; the data are images of shape {shape}: "
                                f"use --arch auto")
    chosen = AUTO_ARCH_BY_SIZE.get(shape[0]) if arch == "auto" else arch
    if chosen is None or shape[0] != shape[1] or shape[0] != CONV_ARCHS[chosen]["size"]:
        wanted = (f"takes {CONV_ARCHS[arch]['size']}×{CONV_ARCHS[arch]['size']} images"
                  if arch != "auto" else f"supports {sizes}")
        raise ArchitectureError(f"no network for images of shape {shape} with arch {arch!r}: it "
                                f"{wanted}, any channels; resize with --image-size 32 or 64")
    return chosen


def _build_sequence(layers, shape):
    """Build each layer on the running shape; returns the output shape (batch axis included)."""
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


@keras.saving.register_keras_serializable(package="tf_dpvae")
class ConvEncoder(keras.Model):
    """q(z|x) = N(μ(x), diag σ²(x)) for images: x [B, S, S, C] → (μ [B, d], log σ² [B, d]).

    ``arch`` names a plan in ``CONV_ARCHS``; ``filters`` (f) and ``units`` (u) scale its widths.
    """

    def __init__(self, arch: str, latent_dim: int, filters: int = 32, units: int = 256, **kwargs):
        super().__init__(**kwargs)
        if arch not in CONV_ARCHS:
            raise ArchitectureError(f"arch must be one of {', '.join(CONV_ARCHS)}; got {arch!r}")
        self.arch, self.latent_dim, self.filters, self.units = arch, latent_dim, filters, units
        plan = CONV_ARCHS[arch]
        self.convs = [keras.layers.Conv2D(m * filters, k, s, padding=p, activation="relu",
                                          name=f"conv_{i}")
                      for i, (m, k, s, p) in enumerate(plan["encoder"])]
        self.flatten = keras.layers.Flatten(name="flatten")
        self.hidden = _dense_stack(units, plan["encoder_dense"], "relu", "enc")
        self.head = keras.layers.Dense(2 * latent_dim, name="enc_head")

    def build(self, input_shape):
        size = CONV_ARCHS[self.arch]["size"]
        if tuple(input_shape[1:3]) != (size, size):
            raise ArchitectureError(f"{self.arch} takes {size}×{size} images; got input shape "
                                    f"{tuple(input_shape)}")
        _build_sequence([*self.convs, self.flatten, *self.hidden, self.head], tuple(input_shape))
        self.built = True

    def call(self, x):
        h = x
        for layer in [*self.convs, self.flatten, *self.hidden]:
            h = layer(h)
        mean, log_var = keras.ops.split(self.head(h), 2, axis=-1)
        return mean, log_var

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "latent_dim": self.latent_dim,
                "filters": self.filters, "units": self.units}


@keras.saving.register_keras_serializable(package="tf_dpvae")
class ConvDecoder(keras.Model):
    """p(x|z)'s parameter for images: z [B, d] → [B, S, S, C] (the mean, or the Bernoulli logits).

    Dense layers up to the base feature map (e.g. 4×4×f for beta_mnist), then transposed convolutions
    up to S×S; the last has ``channels`` filters and no activation.
    """

    def __init__(self, arch: str, channels: int, filters: int = 32, units: int = 256, **kwargs):
        super().__init__(**kwargs)
        if arch not in CONV_ARCHS:
            raise ArchitectureError(f"arch must be one of {', '.join(CONV_ARCHS)}; got {arch!r}")
        self.arch, self.channels, self.filters, self.units = arch, channels, filters, units
        plan = CONV_ARCHS[arch]
        height, width, multiple = plan["base"]
        self.hidden = _dense_stack(units, plan["decoder_dense"], "relu", "dec")
        self.to_base = keras.layers.Dense(height * width * multiple * filters, activation="relu",
                                          name="dec_base")
        self.reshape = keras.layers.Reshape((height, width, multiple * filters), name="reshape")
        self.deconvs = [keras.layers.Conv2DTranspose(m * filters, k, s, padding=p,
                                                     activation="relu", name=f"deconv_{i}")
                        for i, (m, k, s, p) in enumerate(plan["decoder"])]
        k, s, p = plan["last"]
        self.head = keras.layers.Conv2DTranspose(channels, k, s, padding=p, name="dec_head")

    def build(self, input_shape):
        _build_sequence([*self.hidden, self.to_base, self.reshape, *self.deconvs, self.head],
                        tuple(input_shape))
        self.built = True

    def call(self, z):
        h = z
        for layer in [*self.hidden, self.to_base, self.reshape, *self.deconvs]:
            h = layer(h)
        return self.head(h)

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "channels": self.channels,
                "filters": self.filters, "units": self.units}


def make_encoder_decoder(arch: str, example_shape, latent_dim: int, hidden_units: int = 128,
                         hidden_layers: int = 3, conv_filters: int = 32, conv_units: int = 256):
    """(encoder, decoder) for data of ``example_shape`` (no batch axis); see ``choose_arch``."""
    chosen = choose_arch(arch, example_shape)
    if chosen == "mlp":
        return (MLPEncoder(latent_dim, hidden_units, hidden_layers, name="encoder"),
                MLPDecoder(int(example_shape[-1]), hidden_units, hidden_layers, name="decoder"))
    return (ConvEncoder(chosen, latent_dim, conv_filters, conv_units, name="encoder"),
            ConvDecoder(chosen, int(example_shape[-1]), conv_filters, conv_units, name="decoder"))
