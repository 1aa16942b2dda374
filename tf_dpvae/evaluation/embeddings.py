"""Embeddings for the sample metrics of ``evaluation.prdc`` beside the Fréchet distance's features.

A classifier trained on the data's labels maps everything that looks enough like a class to the same
place: it need not tell a saturated white silhouette of a boot from a boot. Naeem et al. (ICML 2020,
§5) recommend randomly initialized networks for data unlike ImageNet: they keep the image's
structure (intensity, texture, shape) without a training objective that throws it away. Two such
embeddings, neither trained:

- ``random_conv``: a fixed, randomly initialized convolutional network. Three 3×3 convolutions of
  stride 2 (32, 64, 128 channels, He-normal weights drawn by NumPy's PCG64 from a fixed seed, so the
  same network on every machine and version), ReLU, then area-resized to 4×4: 2,048 features for
  any image size.
- ``pixels``: the images themselves, flattened (what a person compares).

Inputs are clipped to [0, 1] as for the classifier (a Gaussian decoder can leave that range).
"""

from __future__ import annotations

import numpy as np

EMBEDDINGS = ("random_conv", "pixels")
RANDOM_CONV_SEED = 20200           # fixed: the embedding is part of the metric's definition
RANDOM_CONV_CHANNELS = (32, 64, 128)
RANDOM_CONV_GRID = 4
_BATCH = 500


def random_conv_weights(in_channels: int, seed: int = RANDOM_CONV_SEED) -> list[np.ndarray]:
    """The network's kernels, [3, 3, c_in, c_out] each, He-normal: N(0, 2 / (9 · c_in))."""
    rng = np.random.default_rng(seed)
    kernels, c_in = [], in_channels
    for c_out in RANDOM_CONV_CHANNELS:
        kernels.append(rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (3, 3, c_in, c_out)).astype(np.float32))
        c_in = c_out
    return kernels


def random_conv_features(images, seed: int = RANDOM_CONV_SEED) -> np.ndarray:
    """[n, H, W, C] images → [n, 128 · 4 · 4] features of the fixed random network."""
    import tensorflow as tf

    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [n, H, W, C], got shape {images.shape}")
    kernels = [tf.constant(k) for k in random_conv_weights(images.shape[-1], seed)]

    @tf.function(reduce_retracing=True)
    def embed(x):
        h = tf.clip_by_value(x, 0.0, 1.0)
        for kernel in kernels:
            h = tf.nn.relu(tf.nn.conv2d(h, kernel, strides=2, padding="SAME"))
        h = tf.image.resize(h, (RANDOM_CONV_GRID, RANDOM_CONV_GRID), method="area")
        return tf.reshape(h, (tf.shape(h)[0], -1))

    return np.concatenate([embed(images[i:i + _BATCH]).numpy() for i in range(0, len(images), _BATCH)]
                          or [np.zeros((0, RANDOM_CONV_CHANNELS[-1] * RANDOM_CONV_GRID ** 2), np.float32)])


def pixel_features(images) -> np.ndarray:
    """[n, ...] → [n, prod(...)]: the examples themselves, clipped to [0, 1] and flattened."""
    images = np.asarray(images, np.float32)
    return np.clip(images, 0.0, 1.0).reshape(len(images), -1)


def embedding_function(name: str):
    """features(x) → [n, f] of an embedding in ``EMBEDDINGS``."""
    if name == "random_conv":
        return random_conv_features
    if name == "pixels":
        return pixel_features
    raise ValueError(f"unknown embedding {name!r}; accepted: {', '.join(EMBEDDINGS)}")
