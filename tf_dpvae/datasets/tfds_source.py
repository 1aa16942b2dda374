"""TensorFlow Datasets image data sets, checked before loading so that an offline machine fails fast.

A plain ``tfds.load`` of a data set that is not prepared tries to download it and, without network,
retries for minutes. Here the builder (local metadata only) is asked ``is_prepared()`` first; a data
set that is missing is downloaded only with ``download=True`` (``--download``), otherwise the run stops
at once with one message: what is missing, how to prepare it, and what works offline.

Split plan: the data set's own ``validation`` split if it has one, else the last 10% of ``train``
(``train[90%:]``, a fixed hold-out); ``test`` when it exists. SVHN's ``extra`` split is not used.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import tensorflow as tf

from tf_dpvae.config import DataConfig
from tf_dpvae.datasets.base import (MAX_IN_MEMORY_BYTES, VALIDATION_FRACTION, DataError, Splits,
                                    crop_and_resize)

# Data sets with a fixed preprocessing. celeb_a: the aligned 218×178 faces, centre crop 148×148,
# resized to 64×64 (paper §5; the usual β-VAE / DCGAN CelebA framing), streamed (202,599 images).
PRESETS = {
    "celeb_a": {"crop": 148, "size": 64, "stream": True},
}
OFFLINE_HINT = ("datasets that work offline here: moons, fashion_mnist (Debian package "
                "dataset-fashion-mnist), npz:PATH, folder:PATH")
_BATCH = 1024  # examples per batch while materializing a split into NumPy


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError("tensorflow-datasets is not installed (pip install tensorflow-datasets); "
                        + OFFLINE_HINT) from None
    return tfds


@contextlib.contextmanager
def _quiet_absl():
    """An unprepared data set makes TFDS log "Variant folder ... has no dataset_info.json" (absl
    warnings on stderr); the DataError raised says it better, in one line, so silence them here."""
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)


def _builder(tfds, name: str, data_dir: str | None, accepted: str):
    try:
        with _quiet_absl():
            return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"unknown dataset {name!r}; accepted: {accepted}") from None
    except (ValueError, KeyError, AssertionError) as err:  # e.g. an unknown config or version
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"TFDS cannot build {name!r}: {first}") from None


def _split_plan(builder) -> dict[str, str | None]:
    names = set(builder.info.splits.keys())
    if "train" not in names and names:
        raise DataError(f"TFDS dataset {builder.name!r} has no 'train' split (splits: "
                        f"{', '.join(sorted(names))})")
    keep = round(100 * (1 - VALIDATION_FRACTION))
    if "validation" in names:
        train, validation = "train", "validation"
    else:
        train, validation = f"train[:{keep}%]", f"train[{keep}%:]"
    # Without split metadata (only under tfds.testing.mock_data) assume a test split exists.
    test = "test" if ("test" in names or not names) else None
    return {"train": train, "validation": validation, "test": test}


def ensure_prepared(builder, name: str, download: bool, offline_hint: str) -> None:
    """Prepare ``builder``'s files if they are missing and ``download`` allows it; otherwise, or if
    the download fails, a DataError that says how to prepare them and ends with ``offline_hint``."""
    with _quiet_absl():
        prepared = builder.is_prepared()
    if prepared:
        return
    if not download:
        where = os.fspath(builder.data_dir_root)
        raise DataError(
            f"TFDS dataset {name!r} is not prepared in {where} and downloading is off: on a "
            f"machine with internet run `tfds build {name} --data_dir DIR` (or rerun with "
            f"--download), then pass --data-dir DIR; {offline_hint}")
    try:
        builder.download_and_prepare()
    except Exception as err:  # noqa: BLE001 - any download failure is the user's data problem
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"downloading TFDS dataset {name!r} failed ({first}); "
                        f"{offline_hint}") from None


def _image_shape(name: str, features) -> tuple:
    """The shape of the data set's 'image' feature (H and W None for varying sizes), or DataError
    unless it has one of uint8 with 1 or 3 channels."""
    if "image" not in features:
        raise DataError(f"TFDS dataset {name!r} has no 'image' feature (features: "
                        f"{', '.join(sorted(features.keys()))}); only image data sets are supported")
    image_feature = features["image"]
    shape = tuple(image_feature.shape)
    if image_feature.dtype != tf.uint8 or len(shape) != 3 or shape[-1] not in (1, 3):
        raise DataError(f"TFDS dataset {name!r}: images must be uint8 with 1 or 3 channels; got "
                        f"{image_feature.dtype.name} {shape}")
    return shape


def load_tfds(name: str, config: DataConfig, seed: int, accepted: str) -> Splits:
    """The TFDS image data set ``name`` as ``Splits`` (see the module docstring)."""
    tfds = _import_tfds()
    data_dir = config.data_dir or None
    if data_dir and not os.path.isdir(data_dir):
        raise DataError(f"--data-dir {data_dir!r} is not a directory")
    builder = _builder(tfds, name, data_dir, accepted)
    ensure_prepared(builder, name, config.download, OFFLINE_HINT)

    features = builder.info.features
    shape = _image_shape(name, features)
    preset = PRESETS.get(name.split(":")[0].split("/")[0], {})
    size = config.image_size or preset.get("size", 0)
    crop = preset.get("crop", 0)
    if (None in shape[:2]) and not size:
        raise DataError(f"TFDS dataset {name!r} has images of varying size {shape}: give "
                        f"--image-size (e.g. 64)")
    label_feature = features["label"] if "label" in features else None
    has_labels = isinstance(label_feature, tfds.features.ClassLabel)

    plan = _split_plan(builder)
    out_shape = (size, size, shape[-1]) if size else shape
    total = sum(s.num_examples for s in builder.info.splits.values()) or 0
    stream = preset.get("stream", False) or total * int(np.prod(out_shape)) * 4 > MAX_IN_MEMORY_BYTES

    def prepare(example):
        image = tf.cast(example["image"], tf.float32) / 255.0
        image = crop_and_resize(image, size, crop) if (size or crop) else image
        return image, (example["label"] if has_labels else tf.constant(-1, tf.int64))

    def read(split: str, training: bool):
        ds = builder.as_dataset(
            split=split, shuffle_files=training and stream,
            read_config=tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=True))
        return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    parts, labels = {}, {}
    for key, split in plan.items():
        if split is None:
            parts[key], labels[key] = None, None
            continue
        ds = read(split, key == "train")
        if stream:
            parts[key], labels[key] = ds.map(lambda image, _: image), None
        else:
            images, ys = [], []
            for x, y in ds.batch(_BATCH).as_numpy_iterator():
                images.append(x)
                ys.append(y)
            if not images:
                raise DataError(f"TFDS dataset {name!r}: split {split!r} is empty")
            parts[key] = np.concatenate(images)
            labels[key] = np.concatenate(ys).astype(np.int64) if has_labels else None
    return Splits(train=parts["train"], validation=parts["validation"], name=name,
                  test=parts["test"], train_labels=labels["train"],
                  validation_labels=labels["validation"], test_labels=labels["test"],
                  class_names=tuple(label_feature.names) if has_labels else None)
