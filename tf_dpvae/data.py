"""Dataset registry → ``tf.data`` pipelines.

``load(config, seed)`` resolves ``config.dataset``:

    moons                 two moons (sklearn), generated offline
    fashion_mnist         the real Fashion-MNIST from Debian's IDX files when installed, else TFDS
    dsprites_procedural   dSprites' factor grid drawn by our renderer (not DeepMind's pixels), offline,
                          with ground-truth factors; --num-examples, --image-size (64 native, 32 for CPU)
    dsprites, shapes3d    DeepMind's real data sets from prepared TFDS files, with their factors
    mnist, svhn_cropped, celeb_a, or any other TFDS image data set name (``--data-dir``)
    npz:PATH              a user's own data: images [N, H, W(, C)] or vectors [N, D] (.npz or .npy)
    folder:PATH           a user's own images, one file each
    arrays:NAME           arrays passed in Python (``tf_dpvae.fit(data=...)``): recorded, never reloaded

and returns a ``Splits`` (train / validation / test, optional labels), deterministic given the seed.
Image data is float32 in [0, 1], NHWC. ``make_pipelines`` turns it into shuffled, batched,
prefetched datasets (pairs of batches for FactorVAE, whose discriminator trains on a second,
independently shuffled batch).
"""

from __future__ import annotations

import dataclasses

from typing import Callable

import numpy as np
import tensorflow as tf

from tf_dpvae.config import DataConfig
from tf_dpvae.datasets.base import DataError, Splits, standardize  # noqa: F401 - re-exported
from tf_dpvae.datasets import dsprites, idx, local, tfds_factors, tfds_source

# Shuffle buffer for streamed (TFDS-backed, larger than memory) training data; files are also read in
# a seeded random order, so the buffer only has to mix within and across a few files.
STREAM_SHUFFLE_BUFFER = 10_000


def load_moons(config: DataConfig, seed: int) -> Splits:
    """Two moons (sklearn), standardized with the training set's mean and standard deviation."""
    from sklearn.datasets import make_moons

    num_val = max(config.num_examples // 10, 2)
    points, _ = make_moons(config.num_examples + num_val, noise=config.noise, random_state=seed)
    points = points.astype(np.float32)
    train, val, constants = standardize(points[:config.num_examples], points[config.num_examples:])
    return Splits(train, val, "moons", standardization=constants)


def load_fashion_mnist(config: DataConfig, seed: int) -> Splits:
    """Offline from ``idx.FASHION_MNIST_DIR`` if the four IDX files are there, else through TFDS."""
    if idx.has_fashion_mnist(idx.FASHION_MNIST_DIR):
        splits = idx.load_fashion_mnist_idx(idx.FASHION_MNIST_DIR)
        if config.image_size and config.image_size != 28:
            raise DataError(f"fashion_mnist is 28×28; --image-size {config.image_size} is not "
                            f"supported for it (leave it out)")
        return splits
    return tfds_source.load_tfds("fashion_mnist", config, seed, accepted_names())


def _load_tfds_named(name: str):
    return lambda config, seed: tfds_source.load_tfds(name, config, seed, accepted_names())


LOADERS: dict[str, Callable[[DataConfig, int], Splits]] = {
    "moons": load_moons,
    "fashion_mnist": load_fashion_mnist,
    "mnist": _load_tfds_named("mnist"),
    "svhn_cropped": _load_tfds_named("svhn_cropped"),
    "celeb_a": _load_tfds_named("celeb_a"),
    dsprites.NAME: dsprites.load_dsprites_procedural,
}
# Data sets with ground-truth factors read from TFDS (issue 13): DeepMind's images, not ours.
LOADERS.update({name: (lambda config, seed, name=name: tfds_factors.load_tfds_factors(
    name, config, seed, accepted_names())) for name in tfds_factors.FACTOR_DATASETS})
PREFIXES = {"npz": local.load_npz, "folder": local.load_folder, local.ARRAYS: local.refuse_arrays}


def accepted_names() -> str:
    return (f"{', '.join(sorted(LOADERS))}, any TFDS image dataset name, "
            f"{', '.join(f'{p}:PATH' for p in PREFIXES if p != local.ARRAYS)}")


def load(config: DataConfig, seed: int) -> Splits:
    """The data set ``config.dataset`` names (``loaded_from`` records that string), or a
    ``DataError`` that lists the accepted names."""
    return dataclasses.replace(_load(config, seed), loaded_from=config.dataset)


def _load(config: DataConfig, seed: int) -> Splits:
    name = config.dataset
    prefix, sep, path = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix](path, config, seed)
    loader = LOADERS.get(name)
    if loader is not None:
        return loader(config, seed)
    if not all(c.isalnum() or c in "_-:./*" for c in name):
        raise DataError(f"unknown dataset {name!r}; accepted: {accepted_names()}")
    return tfds_source.load_tfds(name, config, seed, accepted_names())


def make_pipelines(splits: Splits, batch_size: int, seed: int, paired: bool = False,
                   repeat: bool = False, skip_batches: int = 0, fresh_iterators: bool = False):
    """(train, validation) ``tf.data.Dataset``s. Train: reshuffled each epoch from ``seed``, full
    batches only (the TC estimators and the permutation need a fixed batch); ``paired`` zips a second,
    independently shuffled copy for the FactorVAE discriminator. In-memory validation data is cached
    after batching; streamed data is read from its files every epoch (it does not fit in memory).

    ``repeat`` makes the training set an endless stream of epochs whose orders are all fixed by the
    seed, and ``skip_batches`` starts it that many batches in: a run resumed at step t sees exactly
    the batches an uninterrupted run would (``fit`` then needs ``steps_per_epoch``).

    ``fresh_iterators``: every iterator over the training set starts the same stream. Without it a
    seeded, reshuffling dataset continues its sequence of orders from one iterator to the next, and
    Keras under a ``tf.distribute`` strategy iterates once to build the model before training."""
    if skip_batches and not repeat:
        raise ValueError("skip_batches needs repeat=True")
    num_train = splits.num_train
    if num_train < batch_size:
        raise DataError(f"batch-size {batch_size} is larger than the training set "
                        f"({num_train} examples)")
    if splits.streamed:
        source, buffer = splits.train, min(num_train, STREAM_SHUFFLE_BUFFER)
    else:
        source, buffer = tf.data.Dataset.from_tensor_slices(splits.train), num_train

    def shuffled(shuffle_seed):
        return (source.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
                .batch(batch_size, drop_remainder=True))

    def stream(_=None):
        train = shuffled(seed)
        if paired:
            train = tf.data.Dataset.zip((train, shuffled(seed + 1)))
        if repeat:
            train = train.repeat().skip(skip_batches)
        return train

    # Inside flat_map the shuffles' seed state is created anew for each iterator.
    train = tf.data.Dataset.from_tensors(0).flat_map(stream) if fresh_iterators else stream()
    val_batch = min(batch_size, splits.size("validation"))
    if splits.streamed:
        validation = splits.validation.batch(val_batch, drop_remainder=True)
    else:
        validation = tf.data.Dataset.from_tensor_slices(splits.validation).batch(
            val_batch, drop_remainder=True).cache()
    return train.prefetch(tf.data.AUTOTUNE), validation.prefetch(tf.data.AUTOTUNE)
