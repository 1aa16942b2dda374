"""The settings of ``evaluate`` and of the feature classifier (``features``), as frozen dataclasses whose
field metadata (``config.flag``) the commands turn into their flags (``cli.flags.add_settings_flags``).

No TensorFlow import: the commands validate their flags into these before TensorFlow loads. Each
default is written once, here: the flags, their ``--help`` and the library take it from the field.
"""

from __future__ import annotations

import dataclasses
import math
import os

from tf_dpvae.config import CHECKPOINT_CHOICES, flag
from tf_dpvae.errors import UserError, check_positive_int, check_seed, require
from tf_dpvae.evaluation.disentanglement import METRICS as DISENTANGLEMENT_METRICS  # no TensorFlow

DEFAULT_TAUS = (-90.0, -70.0, -50.0, -30.0, -20.0, -10.0, -6.0, -4.0, -3.0, -2.0, -1.0)

# Upper bounds on the evaluation's sizes (issue 14), beside the memory estimate of
# ``check_memory``: far above the paper's (10,000 samples, K = 1,000), far below an int32 overflow.
EVAL_LIMITS = {"num_samples": 10_000_000, "lp_pool": 1_000, "skl_samples": 10_000_000,
               "is_samples": 1_000_000, "nll_examples": 10_000_000, "figure_samples": 10_000,
               "nearest_k": 1_000,
               "marked": 10_000}


class EvaluationError(UserError):
    """The run directory or a setting cannot be evaluated; the message says why."""


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """What ``evaluate`` computes and with how many samples (see ``evaluation.run``)."""

    num_samples: int = flag(10_000, "generated samples for the Fréchet distance, and LP samples kept",
                            parse="positive_int")
    lp_pool: int = flag(5, "LP: rank LP_POOL x NUM_SAMPLES prior samples by q(z)",
                        parse="positive_int")
    skl_samples: int = flag(5_000, "samples per side for sKL and the leakage score (the paper: 5000)",
                            parse="positive_int")
    is_samples: int = flag(1_000, "K, importance samples per example for the NLL",
                           parse="positive_int")
    nll_examples: int = flag(1_000, "held-out examples for the NLL", parse="positive_int")
    seed: int = flag(0, "evaluation seed", parse="seed")
    taus: tuple = flag(DEFAULT_TAUS, "comma-separated thresholds τ on log p for the leakage score, "
                       "written --taus=-50,-10", parse="floats")
    nearest_k: int = flag(5, "k of the k-NN balls of precision, recall, density and coverage (Naeem "
                          "et al.'s k; Kynkäänniemi et al. use 3)", parse="positive_int")
    figure_samples: int = flag(64, "LP/HP samples shown in the figures", parse="positive_int")
    marked: int = flag(25, "LP/HP samples marked on the q(z) map (paper Fig. 3b: five)",
                       parse="positive_int")
    classifier_dir: str | None = flag(
        None, "image data: directory of the feature classifier (tf-dpvae features); without one "
        "the image Fréchet distance is skipped and metrics.json says so (default: "
        "runs/features/<dataset> if it exists)", name="classifier")
    inception_weights: str | None = flag(
        None, "image data: the Inception network file, never downloaded. For the FID (reported as "
        "\"fid\", comparable with published numbers): TF-FID's frozen graph "
        "classify_image_graph_def.pb or the archive holding it, inception-2015-12-05.tgz from "
        "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz (TTUR's "
        "protocol: 8-bit RGB in [0, 255] fed to ExpandDims:0, the graph resizes bilinearly to "
        "299x299; pool_3 features). A keras.applications.InceptionV3 .h5 (e.g. the notop file) is "
        "accepted too, but is not the FID network: reported as \"frechet_distance_keras_inception\". "
        "pytorch-fid's .pth is not supported")
    checkpoint: str = flag("best", "best: the epoch with the lowest validation negative ELBO; "
                           "latest: the last one saved", choices=CHECKPOINT_CHOICES)
    # data with ground-truth factors (dsprites_procedural, dsprites, shapes3d): these metrics of
    # evaluation.disentanglement on the encoder means, with disentanglement_lib's sample sizes
    disentanglement: tuple = flag(
        (), "data with ground-truth factors (dsprites_procedural, dsprites, shapes3d): also compute "
        f"these of {', '.join(DISENTANGLEMENT_METRICS)} on the encoder means (disentanglement_lib's "
        "protocols; dci at its default sizes takes minutes)", choices=DISENTANGLEMENT_METRICS,
        nargs="+", metavar="METRIC")
    disentanglement_train: int = flag(10_000, "factor samples for MIG, DCI and SAP training",
                                      parse="positive_int")
    disentanglement_test: int = flag(5_000, "factor samples for DCI and SAP testing",
                                     parse="positive_int")

    def __post_init__(self):
        def positive(names):
            for name in names:
                check_positive_int(name.replace("_", "-"), getattr(self, name), EvaluationError)

        positive(("num_samples", "lp_pool", "skl_samples", "is_samples", "nll_examples", "nearest_k",
                  "figure_samples", "marked"))
        for name, high in EVAL_LIMITS.items():
            value = getattr(self, name)
            require(value <= high, f"{name.replace('_', '-')} must be at most {high:,}, got {value:,}",
                    EvaluationError)
        require(self.num_samples >= 2 and self.skl_samples >= 2, "num-samples and skl-samples must be "
                "at least 2 (a covariance and a standard error need two points)", EvaluationError)
        check_seed("seed", self.seed, EvaluationError)
        require(self.checkpoint in CHECKPOINT_CHOICES,
                f"checkpoint must be 'best' or 'latest', got {self.checkpoint!r}", EvaluationError)
        require(bool(self.taus) and all(math.isfinite(t) for t in self.taus),
                f"taus must be finite numbers, got {self.taus!r}", EvaluationError)
        unknown = [m for m in self.disentanglement if m not in DISENTANGLEMENT_METRICS]
        if unknown:
            raise EvaluationError(f"unknown disentanglement metric {unknown[0]!r}; accepted: "
                                  f"{', '.join(DISENTANGLEMENT_METRICS)}")
        positive(("disentanglement_train", "disentanglement_test"))


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
    """What ``features`` trains the Fréchet feature classifier on and how (``evaluation.classifier``).

    Exactly one of ``dataset`` and ``npz`` names the labelled data: the command puts the flags of
    group ``source`` in a required, mutually exclusive pair."""

    dataset: str | None = flag(None, "a labelled image data set, any name train accepts "
                               "(fashion_mnist, mnist, npz:PATH with labels, ...)", group="source")
    npz: str | None = flag(None, "labelled arrays x_train, y_train, x_test, y_test", group="source")
    data_dir: str = flag("", "TFDS data directory (as train's --data-dir)")
    out: str | None = flag(None, "cache directory (default: runs/features/<dataset or npz name>, where "
                           "evaluate looks for it)")
    epochs: int = flag(4, "training epochs", parse="positive_int")
    batch_size: int = flag(128, "batch size", parse="positive_int")
    seed: int = flag(0, "seed")


MEMORY_FRACTION = 0.8   # of the machine's physical memory that one evaluation may plan to use


def memory_estimate(settings: EvalSettings, example_shape, latent_dim: int) -> int:
    """Bytes the largest arrays of ``evaluate_run`` hold at once, roughly: the random and the LP
    samples decoded (float32), the LP pool in z and its log q (float64), the sKL samples."""
    s = settings
    pixels = int(math.prod(example_shape))
    pool = s.lp_pool * s.num_samples
    return (2 * s.num_samples * pixels * 4 + pool * (2 * latent_dim + 2) * 8
            + 4 * s.skl_samples * latent_dim * 8)


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(settings: EvalSettings, example_shape, latent_dim: int,
                 available: int | None = None) -> None:
    """Raise EvaluationError, before any computation, when ``memory_estimate`` exceeds
    ``MEMORY_FRACTION`` of the machine's memory (``available``, default: physical memory)."""
    available = physical_memory() if available is None else available
    need = memory_estimate(settings, example_shape, latent_dim)
    if available and need > MEMORY_FRACTION * available:
        raise EvaluationError(
            f"num-samples {settings.num_samples:,} with lp-pool {settings.lp_pool} and skl-samples "
            f"{settings.skl_samples:,} need about {need / 2**30:.1f} GiB for examples of shape "
            f"{tuple(example_shape)} (latent-dim {latent_dim}); this machine has "
            f"{available / 2**30:.1f} GiB, of which {MEMORY_FRACTION:.0%} is accepted: lower "
            f"--num-samples or --lp-pool")
