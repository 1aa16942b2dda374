"""tf_dpvae.experiments.table1 without training: the feature classifier's cache."""

import json
import os

import numpy as np

from tf_dpvae.experiments.table1 import ensure_classifier

def test_ensure_classifier_trains_once_into_out_features(tmp_path):
    """Image data: trained through the features CLI's library function when missing, then reused."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    images = np.zeros((200, 8, 8, 1), np.uint8)
    images[labels == 1, :4] = 255
    np.savez(tmp_path / "toy.npz", images=images, labels=labels)
    dataset = f"npz:{tmp_path / 'toy.npz'}"
    messages = []
    directory = ensure_classifier(dataset, str(tmp_path / "out"), 1, messages.append)
    assert directory.startswith(str(tmp_path / "out" / "features"))
    info = json.loads(open(os.path.join(directory, "info.json")).read())
    assert info["dataset"] == dataset and info["epochs"] == 1 and "training it" in messages[0]
    mtime = os.stat(os.path.join(directory, "info.json")).st_mtime_ns
    ensure_classifier(dataset, str(tmp_path / "out"), 1, messages.append)
    assert "cached" in messages[-1]
    assert os.stat(os.path.join(directory, "info.json")).st_mtime_ns == mtime
