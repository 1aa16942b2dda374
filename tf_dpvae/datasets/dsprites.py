"""Procedural dSprites (``--dataset dsprites_procedural``): DeepMind's factor grid, drawn by our code.

Not DeepMind's images. The factors and their value grids are those of dSprites (Matthey et al. 2017;
the constant colour factor is left out, as disentanglement_lib does):

    factor       size  values (index i → value)
    shape           3  1, 2, 3 = square, ellipse, heart
    scale           6  linspace(0.5, 1, 6)
    orientation    40  linspace(0, 2π, 40) radians (both 0 and 2π are on the grid, as in dSprites:
                       indices 0 and 39 give the same image; a square repeats every π/2, an
                       ellipse every π)
    posX           32  linspace(0, 1, 32), left → right
    posY           32  linspace(0, 1, 32), top → bottom

3·6·40·32·32 = 737,280 combinations, enumerated in C order (shape slowest, posY fastest) as in
DeepMind's file. Images are binary (0 or 1), S×S with S = 64 (dSprites' size) by default; any
S ≥ 16 is drawn directly at that size (``--image-size 32`` suits the conv32 network on CPU: a quarter
of the pixels). The shapes' outlines, sizes and margins differ from DeepMind's sprites.

Geometry, in image coordinates [0, 1]² (x right, y down; pixel (r, c) is sampled at its centre
((c + ½)/S, (r + ½)/S), so an image is a deterministic function of the factors alone):

    centre      (cx, cy) = MARGIN + (1 − 2·MARGIN)·(posX, posY),             MARGIN = 0.2
    shape frame u = R(θ)ᵀ·(x − cx, cy − y) / (scale·HALF_SIZE),               HALF_SIZE = 0.14
                (u₂ points up; the shape turns counter-clockwise on screen as θ grows)
    inside      square   max(|u₁|, |u₂|) ≤ 1
                ellipse  u₁² + (u₂ / ELLIPSE_RATIO)² ≤ 1,                     ELLIPSE_RATIO = 0.55
                heart    (a² + b² − 1)³ − a²·b³ ≤ 0 with a = 1.14·u₁, b = 1.125·u₂ + 0.125
                         (the heart curve, its bounding box [−1.14, 1.14] × [−1, 1.25] mapped
                         onto u ∈ [−1, 1]²)

so every sprite, at every angle, lies within √2·HALF_SIZE < MARGIN of its centre: never clipped.
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.config import DataConfig
from tf_dpvae.datasets.base import DataError, Splits, num_validation
from tf_dpvae.datasets.factors import FactorSource, as_rng

NAME = "dsprites_procedural"
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
SHAPE_NAMES = ("square", "ellipse", "heart")
FACTOR_VALUES = (
    np.array([1.0, 2.0, 3.0]),
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2.0 * np.pi, 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
FACTOR_SIZES = tuple(len(v) for v in FACTOR_VALUES)
NUM_COMBINATIONS = int(np.prod(FACTOR_SIZES))  # 737,280
DEFAULT_IMAGE_SIZE = 64
MIN_IMAGE_SIZE = 16
MARGIN = 0.2
HALF_SIZE = 0.14
ELLIPSE_RATIO = 0.55
_CHUNK_PIXELS = 2 ** 23  # images per vectorized chunk × S², bounds the float32 temporaries (~32 MB)


def all_factor_indices() -> np.ndarray:
    """Every combination of factor indices, int64 [737280, 5], in C order (posY fastest)."""
    grids = np.meshgrid(*[np.arange(s) for s in FACTOR_SIZES], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def sample_factor_indices(n: int, seed) -> np.ndarray:
    """n factor-index vectors [n, 5], each factor uniform and independent (seed: int or Generator)."""
    return ProceduralDSprites().sample_factors(n, seed)


def factor_values(indices) -> np.ndarray:
    """Factor indices [n, 5] → factor values float64 [n, 5] (shape 1-3, scale, radians, posX, posY)."""
    return ProceduralDSprites().values(indices)


def _inside(shape: int, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """The shape's inequality in its own frame (see the module docstring); bool, same shape as u."""
    if shape == 0:
        return np.maximum(np.abs(u1), np.abs(u2)) <= 1.0
    if shape == 1:
        return u1 * u1 + (u2 / ELLIPSE_RATIO) ** 2 <= 1.0
    a, b = 1.14 * u1, 1.125 * u2 + 0.125
    return (a * a + b * b - 1.0) ** 3 - a * a * b ** 3 <= 0.0


def render(indices, image_size: int = DEFAULT_IMAGE_SIZE, dtype=np.float32) -> np.ndarray:
    """Images of the factor indices: int [n, 5] → binary ``dtype`` [n, S, S, 1] (0 or 1), S = image_size.

    Vectorized over images in chunks; deterministic (no randomness at all).
    """
    source = ProceduralDSprites(image_size)
    indices = source.check_indices(indices)
    size = source.image_size
    n = len(indices)
    out = np.zeros((n, size, size, 1), dtype=dtype)
    if n == 0:
        return out
    vals = source.values(indices).astype(np.float32)
    shape_index = indices[:, 0]
    scale, theta, pos_x, pos_y = vals[:, 1], vals[:, 2], vals[:, 3], vals[:, 4]
    centre_x = np.float32(MARGIN) + np.float32(1 - 2 * MARGIN) * pos_x
    centre_y = np.float32(MARGIN) + np.float32(1 - 2 * MARGIN) * pos_y
    radius = scale * np.float32(HALF_SIZE)
    # Only a window of W×W pixels around each centre can be inside the sprite (radius ≤ √2·HALF_SIZE
    # in image units): evaluate the inequalities there (about a sixth of a 64×64 image).
    window = min(size, int(np.ceil(2 * np.sqrt(2) * HALF_SIZE * size)) + 3)
    steps = np.arange(window)
    first_col = np.clip(np.floor(centre_x * size).astype(np.int64) - window // 2, 0, size - window)
    first_row = np.clip(np.floor(centre_y * size).astype(np.int64) - window // 2, 0, size - window)
    chunk = max(1, _CHUNK_PIXELS // (window * window))
    for shape in range(len(SHAPE_NAMES)):
        rows = np.flatnonzero(shape_index == shape)
        for start in range(0, len(rows), chunk):
            r = rows[start:start + chunk]
            cols = first_col[r][:, None] + steps                        # [b, W] pixel columns
            lines = first_row[r][:, None] + steps                       # [b, W] pixel rows
            x = (cols.astype(np.float32) + np.float32(0.5)) / np.float32(size)
            y = (lines.astype(np.float32) + np.float32(0.5)) / np.float32(size)
            cos = (np.cos(theta[r]) / radius[r])[:, None, None]
            sin = (np.sin(theta[r]) / radius[r])[:, None, None]
            dx = (x - centre_x[r][:, None])[:, None, :]                 # [b, 1, W] (columns)
            dy = (centre_y[r][:, None] - y)[:, :, None]                 # [b, W, 1] (rows, y up)
            u1 = cos * dx + sin * dy                                    # R(θ)ᵀ (dx, dy) / radius
            u2 = cos * dy - sin * dx
            out[r[:, None, None], lines[:, :, None], cols[:, None, :], 0] = _inside(shape, u1, u2)
    return out


class ProceduralDSprites(FactorSource):
    """The procedural dSprites as a factor source (renders whatever combination is asked for)."""

    factor_names = FACTOR_NAMES
    factor_values = FACTOR_VALUES

    def __init__(self, image_size: int = DEFAULT_IMAGE_SIZE):
        if (not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool)
                or image_size < MIN_IMAGE_SIZE):
            raise DataError(f"{NAME}: image size must be an integer >= {MIN_IMAGE_SIZE} "
                            f"(64 = dSprites' size, 32 for CPU), got {image_size!r}")
        self.image_size = int(image_size)
        self.name = NAME if self.image_size == DEFAULT_IMAGE_SIZE else f"{NAME}@{self.image_size}"

    def observe(self, indices) -> np.ndarray:
        """float32 [n, S, S, 1] binary images of the factor indices [n, 5]."""
        return render(indices, self.image_size)


def load_dsprites_procedural(config: DataConfig, seed: int) -> Splits:
    """``config.num_examples`` training images, and validation and test sets of a tenth of that each,
    drawn without replacement from the 737,280 combinations (one seeded permutation, so the three
    splits are disjoint), rendered at ``config.image_size`` (0 → 64). The splits carry their factor
    indices (``*_factors``, int64 [N, 5]) and the renderer (``factor_source``); their class labels
    are the shape (0 square, 1 ellipse, 2 heart), so the feature classifier of the offline Fréchet
    distance (``python -m tf_dpvae.features``) can train on them."""
    source = ProceduralDSprites(config.image_size or DEFAULT_IMAGE_SIZE)
    n_train = config.num_examples
    n_held = num_validation(n_train)
    total = n_train + 2 * n_held
    if total > NUM_COMBINATIONS:
        raise DataError(f"{NAME}: --num-examples {n_train} plus validation and test "
                        f"({n_held} each) exceeds the {NUM_COMBINATIONS} factor combinations")
    chosen = as_rng(seed).choice(NUM_COMBINATIONS, size=total, replace=False)
    indices = np.stack(np.unravel_index(chosen, FACTOR_SIZES), axis=1).astype(np.int64)
    parts = {"train": indices[:n_train], "validation": indices[n_train:n_train + n_held],
             "test": indices[n_train + n_held:]}
    return Splits(train=source.observe(parts["train"]),
                  validation=source.observe(parts["validation"]), name=source.name,
                  test=source.observe(parts["test"]),
                  train_factors=parts["train"], validation_factors=parts["validation"],
                  test_factors=parts["test"], factor_names=FACTOR_NAMES, factor_source=source,
                  train_labels=parts["train"][:, 0].copy(),
                  validation_labels=parts["validation"][:, 0].copy(),
                  test_labels=parts["test"][:, 0].copy(), class_names=SHAPE_NAMES)
