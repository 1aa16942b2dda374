"""DeepMind's real dSprites and 3D Shapes through TFDS, with their ground-truth factors.

    dsprites   737,280 binary 64×64×1 images; factors shape (3), scale (6), orientation (40),
               posX (32), posY (32) (TFDS: label_shape … label_y_position)
    shapes3d   480,000 64×64×3 images; factors floor_hue (10), wall_hue (10), object_hue (10),
               scale (8), shape (4), orientation (15)

Neither can be downloaded on these machines: a data set that is not prepared stops at once (as in
``tfds_source``), naming ``dsprites_procedural`` as the offline alternative.

TFDS stores dSprites' pixels as 0 and 1 (not 0 and 255), so they are used as they are; 3D Shapes' are
uint8 0-255 and divided by 255. The whole ``train`` split (the only one) is read into memory as uint8
(dSprites about 3 GB, 3D Shapes about 5.9 GB): the factor source needs every combination to serve
the FactorVAE score's fixed-factor batches. The splits are ``config.num_examples`` training images
and a tenth of that each for validation and test, drawn without replacement with the seed, as for
``dsprites_procedural``; ``--image-size`` resizes (bilinear, so dSprites is then no longer binary).
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.config import DataConfig
from tf_dpvae.datasets import tfds_source
from tf_dpvae.datasets.base import DataError, Splits, crop_and_resize, num_validation
from tf_dpvae.datasets.factors import ArrayFactorSource, as_rng

# name → (TFDS label features in factor order, our factor names, pixel scale)
FACTOR_DATASETS = {
    "dsprites": (("label_shape", "label_scale", "label_orientation", "label_x_position",
                  "label_y_position"), ("shape", "scale", "orientation", "posX", "posY"), 1.0),
    "shapes3d": (("label_floor_hue", "label_wall_hue", "label_object_hue", "label_scale",
                  "label_shape", "label_orientation"),
                 ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"), 255.0),
}
OFFLINE_HINT = "offline, dsprites_procedural has the same factor grid (our renderer, not these pixels)"
_BATCH = 4096


class _StoredSource(ArrayFactorSource):
    """uint8 observations, served as float32 in [0, 1] (divided by the pixel scale, resized)."""

    def __init__(self, *args, pixel_scale=255.0, image_size=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.pixel_scale, self.image_size = pixel_scale, image_size

    def convert(self, images):
        """uint8 [n, H, W, C] → float32 [n, S, S, C] in [0, 1]."""
        images = images.astype(np.float32) / np.float32(self.pixel_scale)
        return np.asarray(crop_and_resize(images, self.image_size)) if self.image_size else images

    def observe(self, indices):
        return self.convert(super().observe(indices))


def load_tfds_factors(name: str, config: DataConfig, seed: int, accepted: str) -> Splits:
    """``name`` (a key of FACTOR_DATASETS) from prepared TFDS files, as Splits with factors."""
    tfds = tfds_source._import_tfds()
    label_features, factor_names, pixel_scale = FACTOR_DATASETS[name]
    builder = tfds_source._builder(tfds, name, config.data_dir or None, accepted)
    tfds_source.ensure_prepared(builder, name, config.download, OFFLINE_HINT)
    features = builder.info.features
    sizes = [features[f].num_classes for f in label_features]
    images, labels = [], []
    dataset = builder.as_dataset(split="train", shuffle_files=False)
    for batch in dataset.batch(_BATCH).as_numpy_iterator():
        images.append(batch["image"])
        labels.append(np.stack([batch[f] for f in label_features], axis=1))
    if not images:
        raise DataError(f"TFDS dataset {name!r}: the train split is empty")
    images, labels = np.concatenate(images), np.concatenate(labels).astype(np.int64)
    values = tuple(np.arange(s, dtype=np.float64) for s in sizes)  # TFDS labels: class indices
    source = _StoredSource(images, labels, factor_names, values, name=name,
                           pixel_scale=pixel_scale, image_size=config.image_size)
    n_train, n_held = config.num_examples, num_validation(config.num_examples)
    if n_train + 2 * n_held > len(images):
        raise DataError(f"{name}: --num-examples {n_train} plus validation and test ({n_held} "
                        f"each) exceeds its {len(images)} images")
    order = as_rng(seed).choice(len(images), size=n_train + 2 * n_held, replace=False)
    parts = {"train": order[:n_train], "validation": order[n_train:n_train + n_held],
             "test": order[n_train + n_held:]}
    return Splits(train=source.convert(images[parts["train"]]),
                  validation=source.convert(images[parts["validation"]]), name=name,
                  test=source.convert(images[parts["test"]]),
                  train_factors=labels[parts["train"]],
                  validation_factors=labels[parts["validation"]],
                  test_factors=labels[parts["test"]], factor_names=factor_names,
                  factor_source=source)
