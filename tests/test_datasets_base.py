"""datasets.base: the shared centre crop and resize, on images of varying size."""

import numpy as np
import tensorflow as tf

from tf_dpvae.datasets import base


def test_crop_and_resize_handles_images_of_varying_size():
    """TFDS features like [None, None, 3] (e.g. tf_flowers) need the crop computed in the graph."""
    sizes = [(40, 30), (20, 50)]
    ds = tf.data.Dataset.from_generator(
        lambda: (np.full((h, w, 3), 0.5, np.float32) for h, w in sizes),
        output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    out = list(ds.map(lambda x: base.crop_and_resize(x, 16)).as_numpy_iterator())
    assert [x.shape for x in out] == [(16, 16, 3)] * 2
    np.testing.assert_allclose(out, 0.5, atol=1e-6)
    x = np.random.default_rng(0).random((2, 40, 30, 1)).astype(np.float32)
    np.testing.assert_array_equal(base.crop_and_resize(x, 30), x[:, 5:35])  # crop only, no resize
