"""What every loader returns (``Splits``), the one error the CLI reports (``DataError``), and the
image preprocessing they share (scaling to [0, 1], centre crop, resize).

Images are float32 in [0, 1], NHWC. A loader holds its splits as NumPy arrays when they fit in memory
(everything but CelebA-sized data) and otherwise as ``tf.data.Dataset``s of single images with a known
cardinality ("streamed"); ``Splits`` hides the difference behind ``size``, ``head`` and
``example_shape``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from tf_dpvae.errors import UserError

# Held-out share of the training data used for validation when a source has no validation split.
VALIDATION_FRACTION = 0.1
# Largest data set (all splits, float32) that a TFDS loader materializes as NumPy arrays; beyond it
# the splits are streamed from the TFDS files (CelebA at 64×64 would be ~10 GB of float32).
MAX_IN_MEMORY_BYTES = 2 * 1024 ** 3


class DataError(UserError):
    """The data named on the command line cannot be loaded; the message says why and what works."""


@dataclasses.dataclass(frozen=True, eq=False)
class Splits:
    """A data set's splits.

    train, validation, test: float32 arrays [N, ...] (vectors [N, D] or images [N, H, W, C] in
    [0, 1]), or ``tf.data.Dataset``s of single examples [...] with known cardinality (``streamed``);
    ``test`` is None when the source has no test split.
    *_labels: int64 class indices [N] aligned with the arrays, or None when unknown or streamed.
    class_names: the label names (index → name), or None.
    *_factors: int64 ground-truth factor indices [N, K] aligned with the arrays, or None (data sets
    without known factors); factor_names: their K names; factor_source: a ``datasets.factors``
    FactorSource that samples and observes any factor combination (what the disentanglement metrics
    need), or None.
    standardization: for vector data a loader standardized, the training split's per-feature mean
    and standard deviation, {"mean": [D], "std": [D]} (x in data units = x·std + mean), else None.
    """

    train: Any
    validation: Any
    name: str
    test: Any = None
    train_labels: np.ndarray | None = None
    validation_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    # Ground-truth factors (issue 13), only for data sets that have them.
    train_factors: np.ndarray | None = None
    validation_factors: np.ndarray | None = None
    test_factors: np.ndarray | None = None
    factor_names: tuple[str, ...] | None = None
    factor_source: Any = None
    # Vector data standardized by the loader (two moons, npz vectors, arrays): {"mean": [D], "std":
    # [D]} of the training split, so that x_data = x·std + mean; None for images (in [0, 1]).
    standardization: dict | None = None
    # The ``--dataset`` string ``data.load`` read these splits from (None: built by the caller, e.g.
    # arrays passed to ``fit``). ``name`` is the source's own name and may differ ("...@32").
    loaded_from: str | None = None

    @property
    def streamed(self) -> bool:
        return isinstance(self.train, tf.data.Dataset)

    @property
    def example_shape(self) -> tuple[int, ...]:
        if self.streamed:
            return tuple(int(d) for d in self.train.element_spec.shape)
        return tuple(self.train.shape[1:])

    @property
    def example_dtype(self) -> str:
        """The dtype of one example, by name (``"float32"``)."""
        if self.streamed:
            return self.train.element_spec.dtype.name
        return np.asarray(self.train[:0]).dtype.name

    def size(self, split: str = "train") -> int:
        """Number of examples in ``split`` (0 for a missing test split)."""
        data = getattr(self, split)
        if data is None:
            return 0
        if isinstance(data, tf.data.Dataset):
            n = int(data.cardinality())
            if n < 0:
                raise DataError(f"the {split} split of {self.name!r} has an unknown size")
            return n
        return len(data)

    @property
    def num_train(self) -> int:
        return self.size("train")

    def head(self, split: str, n: int) -> np.ndarray:
        """The first ``n`` examples of ``split`` as a NumPy array [min(n, size), ...]."""
        data = getattr(self, split)
        if isinstance(data, tf.data.Dataset):
            return np.stack(list(data.take(n).as_numpy_iterator()))
        return data[:n]


def num_validation(n: int) -> int:
    """Examples held out for validation from a source of ``n`` without a validation split."""
    return max(1, int(round(VALIDATION_FRACTION * n)))


def to_unit_float(images: np.ndarray, source: str) -> np.ndarray:
    """uint8 [0, 255] → float32 [0, 1]; float data must already lie in [0, 1]. Adds the channel axis
    to NHW data. images: [N, H, W] or [N, H, W, C] → float32 [N, H, W, C]."""
    if images.ndim not in (3, 4):
        raise DataError(f"{source}: images must have rank 3 (NHW) or 4 (NHWC); got shape "
                        f"{images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] not in (1, 3):
        raise DataError(f"{source}: images must have 1 (grey) or 3 (RGB) channels in the last axis "
                        f"(NHWC); got shape {images.shape}")
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise DataError(f"{source}: no images (shape {images.shape})")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if np.issubdtype(images.dtype, np.floating):
        out = images.astype(np.float32)
        lo, hi = float(np.min(out)), float(np.max(out))
        if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
            raise DataError(f"{source}: float images must lie in [0, 1]; found values in "
                            f"[{lo:.4g}, {hi:.4g}] (store uint8 0-255, or divide by 255)")
        return out
    raise DataError(f"{source}: images must be uint8 (0-255) or float in [0, 1]; got dtype "
                    f"{images.dtype}")


def standardize(train: np.ndarray, validation: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """(train, validation, constants): both standardized with the training split's per-feature mean
    μ and standard deviation σ, x' = (x − μ)/σ (a constant feature keeps σ = 1); constants =
    {"mean": μ, "std": σ} as lists, what maps a sample back to data units: x = x'·σ + μ."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0).astype(np.float32)
    constants = {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}
    return (train - mean) / std, (validation - mean) / std, constants


def crop_and_resize(images, size: int = 0, crop: int = 0):
    """Centre crop and resize, in TensorFlow (so NumPy and tf.data sources match exactly).

    images: float [..., H, W, C]. crop > 0 takes the central crop×crop window (CelebA: 148 of
    218×178, the common β-VAE/DCGAN framing of the face); else, if ``size`` is set, the central
    square min(H, W)². Then, if ``size`` is set and differs, resizes to size×size (bilinear with
    antialiasing, so downscaling averages instead of aliasing) and clips to [0, 1].
    """
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[-3], images.shape[-2]
    if height is None or width is None:  # images of varying size (a TFDS feature of shape [None, None, C])
        height, width = tf.shape(images)[-3], tf.shape(images)[-2]
        side = crop or (tf.minimum(height, width) if size else 0)
    else:
        side = crop or (min(height, width) if size else 0)
        if side > min(height, width):
            raise DataError(f"cannot crop {side}×{side} out of {height}×{width} images")
    if size or crop:
        images = tf.image.crop_to_bounding_box(images, (height - side) // 2, (width - side) // 2,
                                               side, side)
        height = width = side
    if size and (not isinstance(height, int) or (height, width) != (size, size)):
        images = tf.clip_by_value(
            tf.image.resize(images, (size, size), method="bilinear", antialias=True), 0.0, 1.0)
    return images
