"""Synthetic labelled images for the feature classifier's tests (test_evaluation_classifier.py,
test_cli_features.py)."""

import numpy as np


def synthetic(n, seed):
    """12×12 images of three classes: a horizontal bar, a vertical bar, a diagonal; plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.uniform(0, 0.3, size=(n, 12, 12, 1))
    for i, label in enumerate(labels):
        pos = rng.integers(2, 10)
        if label == 0:
            images[i, pos, :, 0] = 1.0
        elif label == 1:
            images[i, :, pos, 0] = 1.0
        else:
            images[i, np.arange(12), np.arange(12), 0] = 1.0
    return images.astype(np.float32), labels
