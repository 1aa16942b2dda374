"""Typed, frozen settings for every part of a run, validated on construction.

No TensorFlow import here: the CLI validates a whole configuration (and reports a bad value with exit
status 2) before TensorFlow is loaded and before anything is written.

Loss scale used throughout (see ``shared/reference-code.md`` §4 and §6 for the authors' mixed scale):
every term is per example (summed over data or latent dimensions) and averaged over the batch. Where a
default is derived from the authors' configuration, the field's comment gives the mapping.

The settings of a post-hoc prior (the retrofit command), which are not a section of a run, are in
``post_hoc_config``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, ClassVar, Mapping

from tf_dpvae import errors
from tf_dpvae.errors import UserError

REGULARIZERS = ("none", "beta", "betab", "tc", "factor", "info")
PRIORS = ("dp", "normal")
FLOW_COUPLINGS, FLOW_PERMUTATIONS = ("affine", "spline"), ("alternate", "reverse", "random", "lu")
LIKELIHOODS = ("gaussian", "bernoulli")
TC_ESTIMATORS = ("mss", "mws")
MMD_KERNELS = ("rbf", "imq")
# Encoder/decoder families (networks.py). auto: MLP for vectors, beta_mnist for 28×28, conv32 for
# 32×32, conv64 for 64×64 images; factor_mnist is the reference's FactorVAE network (28×28 only).
ARCHS = ("auto", "mlp", "beta_mnist", "factor_mnist", "conv32", "conv64")
# Where and how training runs (distribute.py): tf.distribute strategy and compute precision.
STRATEGIES = ("auto", "one", "mirrored", "multiworker")
MIXED_PRECISION = ("off", "bfloat16", "float16")
# Learning-rate schedules of the VAE's optimizer (model.learning_rate_schedule).
LR_SCHEDULES = ("cosine", "constant")
# Which of a run's checkpoints export and evaluation read (runs.checkpoint_path).
CHECKPOINT_CHOICES = ("best", "latest")


# Group of the execution flags (TrainConfig): they may change between a run and its resumption.
DEVICES = "devices and speed (--batch-size is the global batch)"


def flag(default: Any, help: str, *, name: str | None = None, choices: tuple[str, ...] | None = None,
         group: str | None = None, **argparse_extra: Any) -> Any:
    """A setting with its command-line flag: ``dataclasses.field(default=default)`` whose metadata
    the commands (``tf_dpvae.cli.flags``) turn into ``--NAME``.

    name: the flag, with underscores (default: the field's name); help: what it means, with the
    paper's symbol (the default is appended from ``default``, never written here); choices: the
    accepted values (a registry tuple above); group: the ``--help`` section (default: the class's
    ``GROUP``). A field declared without ``flag`` still gets a flag named after the field.
    argparse_extra: for the commands' own settings (``cli.flags.add_settings_flags``): ``parse`` (the
    name of an argument type in ``cli.flags.PARSERS``), ``nargs``, ``metavar``, ``hidden``.
    """
    return dataclasses.field(default=default, metadata={
        "flag": name, "help": help, "choices": choices, "group": group, **argparse_extra})


# config.json's record of a post-hoc prior (retrofit command): {"settings": the fields of
# post_hoc_config.PostHocConfig, "source": the run and checkpoint it was fitted to, "fit": what the
# fit measured}. Written by post_hoc.retrofit_run, read by runs.read_post_hoc (load_run builds the
# fitted prior from it); not a setting of training, so from_dict skips it.
POST_HOC_KEY = "post_hoc"

# config.json's record of the data the run was trained on, beside the sections: {"shape": [28, 28, 1],
# "dtype": "float32"} of one example. Written by training, read by runs.load_run (export and a
# restore without data need it to build the model); not a setting, so from_dict skips it.
EXAMPLE_KEY = "example"


class ConfigError(UserError):
    """A setting has a value outside what is accepted; the message names both."""


# The shared checks (``errors``), raising ConfigError: a bad setting names the argument and the value.
_require = functools.partial(errors.require, error=ConfigError)
_positive_int = functools.partial(errors.check_positive_int, error=ConfigError)
_seed = functools.partial(errors.check_seed, error=ConfigError)


# Upper bounds on sizes (issue 14): far above any use in the paper, far below what exhausts memory or
# overflows an int32 shape; a value outside is refused before anything is written.
MAX_LATENT_DIM = 1024
MAX_WIDTH = 16384          # hidden units, flow units, conv dense units
MAX_LAYERS = 64            # hidden layers, flow layers
MAX_FLOW_BLOCKS = 256
MAX_CONV_FILTERS = 1024
MAX_NUM_EXAMPLES = 10_000_000   # two moons: generated in memory (2 floats each, with a tenth more)
# Finite but unusable values (issue 26): a value past these is refused before anything is written.
# Adam's step is about lr per weight: past 10 every weight leaves any useful range in one step, and
# 1e308 overflows the schedule's float64 arithmetic.
MAX_LR = 10.0
MAX_EPOCHS = 1_000_000
MAX_STEPS = 2 ** 31 - 1    # the optimizer's step and the schedule's T stay within int32
MAX_WEIGHT = 1e6           # objective weights (β, γ, λ, C_max ...): beyond, the loss overflows float32
MAX_SCALE = 1e6            # σ_x, MMD bandwidth, noise, clip norm: far outside the data's own scale
MAX_ADAM_BETA = 0.999999   # β = 1 divides Adam's bias correction by zero
MIN_OBS_STD = 1e-6         # 1/σ_x² must stay finite in float32


_finite_in = functools.partial(errors.check_finite_in, error=ConfigError)
_count = functools.partial(errors.check_count, error=ConfigError)
_int_in = functools.partial(errors.check_int_in, error=ConfigError)
_finite = functools.partial(errors.check_finite, error=ConfigError)
_choice = functools.partial(errors.check_choice, error=ConfigError)


@dataclasses.dataclass(frozen=True)
class PriorConfig:
    """The prior on the representation space z.

    ``dp`` is the decoupled prior p(z) = N(g(z); 0, I)·|det ∂g/∂z| (paper eq. 2) with g a chain of
    ``num_blocks`` coupling blocks (eqs. 3-4). Sizes follow the authors' reference: K = 6 blocks, two
    hidden layers of width 64. The coupling itself does not (issue 22): the default is the
    rational-quadratic spline, the identity outside [-5, 5], between alternating halves. The paper's
    affine coupling (log-scale bounded to [-1, 1] by tanh; ``--flow-coupling affine``) lets g⁻¹
    stretch N(0, I)'s tails far beyond the codes at latent size 10
    (``results/fashion_mnist_d10_flow_tails``); the spline keeps them. The flow screen in
    ``results/fashion_mnist_d10_flow_screen`` and the table in ``results/fashion_mnist_d10`` are
    the evidence for the choice.
    """

    GROUP: ClassVar[str] = "decoupled prior (RealNVP, eqs. 3-4)"

    kind: str = flag("dp", "dp = decoupled RealNVP prior, normal = N(0, I)", name="prior",
                     choices=PRIORS, group="run")
    # K in eq. (4); the reference alternates two masks three times
    num_blocks: int = flag(6, "number of coupling blocks K", name="flow_blocks")
    hidden_units: int = flag(64, "hidden width of s_k, t_k", name="flow_units")
    hidden_layers: int = flag(2, "hidden layers of s_k, t_k", name="flow_layers")
    # |s_k| <= scale_bound, so one block rescales by at most e^bound
    scale_bound: float = flag(1.0, "bound on |s_k| (tanh)", name="flow_scale_bound")
    # issue 22 (priors.DecoupledPrior says why B = 5); 0 keeps t_k linear, the authors' tanh is 1
    shift_bound: float = flag(0.0, "affine: |t_k| <= bound via tanh (0 = linear t_k)",
                              name="flow_shift_bound")
    coupling: str = flag("spline", "affine (eq. 3), or spline: rational-quadratic on [-B, B], "
                         "identity outside", name="flow_coupling", choices=FLOW_COUPLINGS)
    spline_bins: int = flag(8, "spline: bins per coordinate", name="flow_spline_bins")
    spline_bound: float = flag(5.0, "spline: half-width B of the box", name="flow_spline_bound")
    permutation: str = flag("alternate", "between blocks: alternating halves, reverse, random "
                            "(fixed, from --seed) or lu (learned, Glow)", name="flow_permutation",
                            choices=FLOW_PERMUTATIONS)

    def __post_init__(self) -> None:
        _choice("prior", self.kind, PRIORS)
        _int_in("flow_blocks", self.num_blocks, 1, MAX_FLOW_BLOCKS)
        # One block conditions on half of z and leaves those coordinates untouched (the identity):
        # g would then only reshape the other half, which is not the decoupled prior of eq. (4).
        _require(self.num_blocks >= 2, f"flow_blocks must be at least 2 (one coupling block leaves "
                                       f"half of the coordinates untouched), got {self.num_blocks!r}")
        _int_in("flow_units", self.hidden_units, 1, MAX_WIDTH)
        _int_in("flow_layers", self.hidden_layers, 1, MAX_LAYERS)
        _finite("flow_scale_bound", self.scale_bound, 0.0, strict=True)
        _finite("flow_shift_bound", self.shift_bound, 0.0)
        _choice("flow_coupling", self.coupling, FLOW_COUPLINGS)
        _require(self.coupling == "affine" or self.shift_bound == 0, f"flow_shift_bound applies to "
                 f"affine couplings only, got {self.shift_bound!r} with flow_coupling {self.coupling!r}")
        _int_in("flow_spline_bins", self.spline_bins, 2, 128)
        _finite("flow_spline_bound", self.spline_bound, 0.0, strict=True)
        _choice("flow_permutation", self.permutation, FLOW_PERMUTATIONS)


@dataclasses.dataclass(frozen=True)
class ObjectiveConfig:
    """The regularizer and its weights (paper §4.3), all on the per-example scale."""

    GROUP: ClassVar[str] = "objective"

    reg: str = flag("factor", "objective (regularizer)", choices=REGULARIZERS, group="run")
    # beta (β-VAE-H): loss = R + β·KL. The reference's β = 5 sits next to a batch-summed KL and a
    # batch-summed R, so it carries over unchanged.
    beta: float = flag(5.0, "weight β of the KL", group="beta: β-VAE-H")
    # betab (β-VAE-B, Burgess et al. 2018): loss = R + γ·|KL − C(t)|, C(t) = C_max·min(1, t / steps).
    # The reference's C_max = 25 is per batch of 24 (≈ 1.04 nats per example); ours is per example.
    capacity_gamma: float = flag(15.0, "weight γ of |KL − C|", group="betab: β-VAE-B")
    capacity_max: float = flag(5.0, "final capacity C_max, nats per example", group="betab: β-VAE-B")
    capacity_steps: int = flag(2000, "steps over which C rises to C_max", group="betab: β-VAE-B")
    # tc (β-TCVAE, Chen et al. 2018): loss = R + α·MI + β·TC + γ·DWKL. α = γ = 1, β > 1 is Chen et al.'s
    # setting; the reference's values are batch means next to a batch-summed R (effectively /B).
    tc_alpha: float = flag(1.0, "weight α of the index-code MI", group="tc: β-TCVAE")
    tc_beta: float = flag(6.0, "weight β of the total correlation", group="tc: β-TCVAE")
    tc_gamma: float = flag(1.0, "weight γ of the dimension-wise KL", group="tc: β-TCVAE")
    tc_estimator: str = flag("mss", "mss = minibatch-stratified, mws = minibatch-weighted",
                             choices=TC_ESTIMATORS, group="tc: β-TCVAE")
    dataset_size: int = flag(0, "N in the estimators (0 = the training set's size, set by training)",
                             group="tc: β-TCVAE")
    # factor (FactorVAE, Kim & Mnih 2018): loss = R + KL + γ·TC_D. The reference's γ = 1000 is a batch
    # mean next to batch sums at B = 24, i.e. ≈ 41.7 per example; Kim & Mnih use 6.4-40 per example.
    factor_gamma: float = flag(10.0, "weight γ of the TC", group="factor: FactorVAE")
    # discriminator: Kim & Mnih and the reference use 5 hidden layers of width 1000 (≈ 4 M weights;
    # the Table 1 protocol pins that). The default is 3 × 256 (≈ 0.13 M): it sees only the d-dimensional
    # code, took ≈ 85 % of the two-moons step at 1000 × 5, and at 3 × 256 the seed-3 Factor-dpVAE run
    # that ended at 10.7 % off-manifold ended at 5.4 % (benchmarks/moons_variants.py, README)
    disc_units: int = flag(256, "discriminator width (Kim & Mnih: 1000)", group="factor: FactorVAE")
    disc_layers: int = flag(3, "discriminator hidden layers (Kim & Mnih: 5)", group="factor: FactorVAE")
    disc_lr: float = flag(1e-4, "discriminator Adam learning rate", group="factor: FactorVAE")
    # Kim & Mnih's Adam betas for D; the reference used (0.9, 0.999)
    disc_beta_1: float = flag(0.5, "discriminator Adam β1", group="factor: FactorVAE")
    disc_beta_2: float = flag(0.9, "discriminator Adam β2", group="factor: FactorVAE")
    # info (InfoVAE-MMD, Zhao et al. 2019): loss = R + (1−α)·KL + (α+λ−1)·MMD.
    info_alpha: float = flag(0.0, "α: KL weight is 1 − α", group="info: InfoVAE-MMD")
    info_lambda: float = flag(100.0, "λ: MMD weight is α + λ − 1", group="info: InfoVAE-MMD")
    mmd_kernel: str = flag("imq", "MMD kernel", choices=MMD_KERNELS, group="info: InfoVAE-MMD")
    # the kernels use 2·d·σ² (d = latent size)
    mmd_scale: float = flag(1.0, "kernel bandwidth σ", group="info: InfoVAE-MMD")
    # every objective; the best checkpoint is chosen only from epochs that end after the ramp
    reg_warmup_steps: int = flag(0, "ramp from the plain ELBO to the full regularized objective "
                                    "over N steps: (1 − w)·KL + w·objective, w = min(1, t/N); 0 = off")

    def __post_init__(self) -> None:
        _choice("reg", self.reg, REGULARIZERS)
        for name in ("beta", "capacity_gamma", "capacity_max", "tc_alpha", "tc_beta", "tc_gamma",
                     "factor_gamma", "info_lambda"):
            _finite_in(name.replace("_", "-"), getattr(self, name), 0.0, MAX_WEIGHT)
        _finite_in("info-alpha", self.info_alpha, -MAX_WEIGHT, MAX_WEIGHT)
        _positive_int("capacity-steps", self.capacity_steps)
        _count("capacity-steps", self.capacity_steps, MAX_STEPS, 1)
        _choice("tc-estimator", self.tc_estimator, TC_ESTIMATORS)
        _require(isinstance(self.dataset_size, int) and self.dataset_size >= 0,
                 f"dataset-size must be a non-negative integer, got {self.dataset_size!r}")
        _positive_int("disc-units", self.disc_units)
        _positive_int("disc-layers", self.disc_layers)
        _finite_in("disc-lr", self.disc_lr, 0.0, MAX_LR, strict_low=True)
        _finite_in("disc-beta-1", self.disc_beta_1, 0.0, MAX_ADAM_BETA)
        _finite_in("disc-beta-2", self.disc_beta_2, 0.0, MAX_ADAM_BETA)
        _choice("mmd-kernel", self.mmd_kernel, MMD_KERNELS)
        _finite_in("mmd-scale", self.mmd_scale, 0.0, MAX_SCALE, strict_low=True)
        _require(isinstance(self.reg_warmup_steps, int) and self.reg_warmup_steps >= 0,
                 f"reg-warmup-steps must be a non-negative integer, got {self.reg_warmup_steps!r}")
        _count("reg-warmup-steps", self.reg_warmup_steps, MAX_STEPS)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Encoder/decoder sizes and the likelihood p(x|z)."""

    GROUP: ClassVar[str] = "model"

    latent_dim: int = flag(2, "latent size L")
    hidden_units: int = flag(128, "MLP encoder/decoder width (vector data, e.g. two moons)")
    hidden_layers: int = flag(3, "MLP hidden layers")
    likelihood: str = flag("gaussian", "p(x|z)", choices=LIKELIHOODS)
    # Gaussian likelihood N(x; x̂, σ_x² I) with a fixed σ_x: the reference's MSE weight w_mse
    # corresponds to σ_x² = 1 / (2·w_mse).
    obs_std: float = flag(0.1, "σ_x of the Gaussian likelihood")
    arch: str = flag("auto", "encoder/decoder: auto = mlp for vectors, beta_mnist for 28×28, conv32 "
                     "for 32×32, conv64 for 64×64 images; factor_mnist = the reference FactorVAE "
                     "network (28×28)", choices=ARCHS)
    conv_filters: int = flag(32, "base filter count f of the conv networks")
    # 256 in the reference and Higgins et al.
    conv_units: int = flag(256, "dense width of the conv networks")

    def __post_init__(self) -> None:
        _int_in("latent-dim", self.latent_dim, 1, MAX_LATENT_DIM)
        _int_in("hidden-units", self.hidden_units, 1, MAX_WIDTH)
        _int_in("hidden-layers", self.hidden_layers, 1, MAX_LAYERS)
        _choice("likelihood", self.likelihood, LIKELIHOODS)
        _finite("obs-std", self.obs_std, 0.0, strict=True)
        _finite_in("obs-std", self.obs_std, MIN_OBS_STD, MAX_SCALE)
        _choice("arch", self.arch, ARCHS)
        _int_in("conv-filters", self.conv_filters, 1, MAX_CONV_FILTERS)
        _int_in("conv-units", self.conv_units, 1, MAX_WIDTH)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the examples come from (data.py)."""

    GROUP: ClassVar[str] = "image data"

    dataset: str = flag("moons", "data set: moons (generated offline), fashion_mnist (offline from "
                        "Debian's dataset-fashion-mnist, else TFDS), mnist, svhn_cropped, celeb_a or "
                        "any TFDS image data set, npz:PATH, folder:PATH", group="run")
    # two moons: training points generated (validation: a tenth more)
    num_examples: int = flag(10000, "training points", group="two moons")
    noise: float = flag(0.05, "sklearn make_moons noise before standardization", group="two moons")
    data_dir: str = flag("", "TFDS data directory ('' = $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    download: bool = flag(False, "let TFDS download a data set that is not prepared (needs internet; "
                          "without it a missing data set stops the run at once)")
    image_size: int = flag(0, "centre-crop to a square and resize to N×N (0 = native size; celeb_a: "
                           "64, as in the paper)")

    def __post_init__(self) -> None:
        _require(isinstance(self.dataset, str) and self.dataset != "",
                 f"dataset must be a non-empty name, got {self.dataset!r}")
        _int_in("num-examples", self.num_examples, 2, MAX_NUM_EXAMPLES,
                " (two moons are standardized: one point has no spread)")
        _finite_in("noise", self.noise, 0.0, MAX_SCALE)
        _require(isinstance(self.data_dir, str), f"data-dir must be a path, got {self.data_dir!r}")
        _require(isinstance(self.download, bool), f"download must be true or false, "
                                                  f"got {self.download!r}")
        _require(isinstance(self.image_size, int) and not isinstance(self.image_size, bool)
                 and 0 <= self.image_size <= 1024,
                 f"image-size must be an integer in [0, 1024] (0 = native size), "
                 f"got {self.image_size!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and how the VAE is optimized, and where it runs (distribute.py)."""

    GROUP: ClassVar[str] = "training"

    # two moons: 4,000 steps. A constant lr over 15 epochs ended on poor models; with the cosine
    # schedule 25 epochs still left Factor-dpVAE seed 3 at 5.4 % off-manifold, 40 epochs at 3.1 %
    epochs: int = flag(40, "epochs")
    steps: int = flag(0, "stop after N training steps in total, counting those before a resumption "
                      "(0 = no limit; --epochs still bounds the run)")
    batch_size: int = flag(100, "batch size B (the global batch over all devices)")
    lr: float = flag(1e-3, "Adam learning rate")
    # The VAE optimizer's learning rate over the run (model.learning_rate_schedule): cosine decays from
    # lr to lr·lr_final_fraction over the run's planned length (epochs × steps per epoch; `steps` only
    # stops early) after a linear warm-up of warmup_steps;
    # constant keeps lr. A constant 1e-3 left the two-moons models oscillating late in training
    # (validation NELBO and sample quality worse at epoch 15 than at epoch 9, issue 11).
    lr_schedule: str = flag("cosine", "cosine: warm-up, then cosine decay from --lr to --lr × "
                            "--lr-final-fraction over the run; constant", choices=LR_SCHEDULES)
    lr_final_fraction: float = flag(0.01, "final learning rate as a fraction of --lr")
    warmup_steps: int = flag(100, "linear learning-rate warm-up steps")
    clip_norm: float = flag(0.0, "clip the VAE gradients' global norm to this (0 = no clipping)")
    seed: int = flag(0, "seed for data, weights and sampling")
    log_every: int = flag(50, "TensorBoard training scalars every N steps (and per epoch)")
    # Execution (may change between a run and its resumption, except mixed_precision, whose float16
    # loss-scale state is part of the checkpoint). batch_size above is the global batch.
    strategy: str = flag("auto", "tf.distribute strategy: one device, mirrored over local GPUs (or "
                         "--devices), multiworker across processes set by TF_CONFIG; auto = mirrored "
                         "if there are several GPUs, else one", choices=STRATEGIES, group=DEVICES)
    devices: str = flag("", "comma-separated devices for one/mirrored, e.g. /gpu:0,/gpu:1 "
                        "('' = all GPUs)", group=DEVICES)
    mixed_precision: str = flag("off", "compute in bfloat16/float16 with float32 variables (the "
                                "flow, the KL and the losses stay float32; float16 adds loss "
                                "scaling)", choices=MIXED_PRECISION, group=DEVICES)
    jit: bool = flag(False, "XLA-compile the training step (slower on these CPUs; measure)",
                     group=DEVICES)
    # A peer that accepts TCP but is not a TF worker would otherwise hold the start-up for minutes
    peer_timeout: int = flag(600, "multiworker: seconds to wait for every TF_CONFIG peer before "
                             "giving up with one line (exit 2)", group=DEVICES)

    def __post_init__(self) -> None:
        _positive_int("epochs", self.epochs)
        _count("epochs", self.epochs, MAX_EPOCHS, 1)
        _require(isinstance(self.steps, int) and self.steps >= 0,
                 f"steps must be a non-negative integer (0 = no limit), got {self.steps!r}")
        _count("steps", self.steps, MAX_STEPS, why=" (0 = no limit)")
        _positive_int("batch-size", self.batch_size)
        _require(self.batch_size >= 2, f"batch-size must be at least 2, got {self.batch_size!r}")
        _finite("lr", self.lr, 0.0, strict=True)
        _finite_in("lr", self.lr, 0.0, MAX_LR, strict_low=True)
        _choice("lr-schedule", self.lr_schedule, LR_SCHEDULES)
        _require(isinstance(self.lr_final_fraction, (int, float))
                 and not isinstance(self.lr_final_fraction, bool)
                 and 0.0 <= self.lr_final_fraction <= 1.0,
                 f"lr-final-fraction must be a number in [0, 1], got {self.lr_final_fraction!r}")
        _require(isinstance(self.warmup_steps, int) and not isinstance(self.warmup_steps, bool)
                 and self.warmup_steps >= 0,
                 f"warmup-steps must be a non-negative integer, got {self.warmup_steps!r}")
        _count("warmup-steps", self.warmup_steps, MAX_STEPS)
        _finite_in("clip-norm", self.clip_norm, 0.0, MAX_SCALE)
        _positive_int("log-every", self.log_every)
        _count("log-every", self.log_every, MAX_STEPS, 1)
        _seed("seed", self.seed)
        _choice("strategy", self.strategy, STRATEGIES)
        _choice("mixed-precision", self.mixed_precision, MIXED_PRECISION)
        _require(isinstance(self.jit, bool), f"jit must be true or false, got {self.jit!r}")
        _count("peer-timeout", self.peer_timeout, 86_400, 1)
        _require(isinstance(self.devices, str), f"devices must be a comma-separated list of device "
                                                f"names, got {self.devices!r}")
        names = [d.strip() for d in self.devices.split(",")] if self.devices else []
        _require(all(names) and len(set(names)) == len(names),
                 f"devices must be distinct device names separated by commas, e.g. /gpu:0,/gpu:1; "
                 f"got {self.devices!r}")
        _require(not (self.strategy == "multiworker" and names),
                 "devices applies to the one and mirrored strategies; multiworker uses each "
                 "worker's local devices")
        _require(not (self.strategy == "one" and len(names) > 1),
                 f"strategy one runs on one device, got devices {self.devices!r}; "
                 f"use strategy mirrored")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as ``config.json`` in the run directory."""

    prior: PriorConfig = dataclasses.field(default_factory=PriorConfig)
    objective: ObjectiveConfig = dataclasses.field(default_factory=ObjectiveConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        n, b = self.objective.dataset_size, self.train.batch_size
        _require(not (self.objective.reg == "tc" and 0 < n < b),
                 f"dataset-size N = {n} is below batch-size {b}: β-TCVAE's minibatch-stratified "
                 f"weights (N − B + 1)/(N·(B − 1)) would be negative; N must be at least the batch size")
        if self.prior.kind == "dp":
            _require(self.model.latent_dim >= 2,
                     f"the decoupled prior couples latent dimensions and needs latent-dim >= 2, "
                     f"got {self.model.latent_dim}; use --prior normal for a 1-D latent")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunConfig":
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(values) - set(sections) - {EXAMPLE_KEY, POST_HOC_KEY}
        _require(not unknown, f"unknown configuration sections {sorted(unknown)}; "
                              f"accepted: {sorted(sections)}")
        values = with_legacy_values(values)
        parts = {}
        for field in dataclasses.fields(cls):
            section_cls = field.default_factory  # type: ignore[misc]
            given = dict(values.get(field.name, {}))
            known = {f.name for f in dataclasses.fields(section_cls)}
            bad = set(given) - known
            _require(not bad, f"unknown keys {sorted(bad)} in section {field.name!r}; "
                              f"accepted: {sorted(known)}")
            parts[field.name] = section_cls(**given)
        return cls(**parts)

    def replace(self, **sections: Mapping[str, Any]) -> "RunConfig":
        """A copy with some fields of some sections changed, e.g. ``replace(train={"steps": 3})``."""
        values = self.to_dict()
        for name, changes in sections.items():
            values[name] = {**values[name], **changes}
        return RunConfig.from_dict(values)


# Settings added after runs were first recorded, with the value every run recorded without them
# used: a saved configuration that lacks one means that value, not today's default (issue 22 made the
# spline coupling the default; a run recorded before the flow options existed is affine).
LEGACY_VALUES = {"prior": {"coupling": "affine", "shift_bound": 0.0, "permutation": "alternate"}}


def with_legacy_values(values: Mapping[str, Any]) -> dict:
    """``values`` (a configuration's sections) with each key of ``LEGACY_VALUES`` that a present
    section lacks filled in with the value runs used before that key existed."""
    out = {name: (dict(section) if isinstance(section, Mapping) else section)
           for name, section in values.items()}
    for name, legacy in LEGACY_VALUES.items():
        if isinstance(out.get(name), dict):
            out[name] = {**legacy, **out[name]}
    return out
