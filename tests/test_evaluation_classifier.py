"""The feature classifier on small synthetic labelled images: learns, caches, verifies, features."""

import json

import numpy as np
import pytest

from tf_dpvae.evaluation import classifier, frechet

from classifier_cases import synthetic


def test_train_cache_reload_and_features(tmp_path):
    x, y = synthetic(600, 0)
    xt, yt = synthetic(200, 1)
    model, accuracy = classifier.train_classifier(x, y, xt, yt, epochs=3, batch_size=32)
    assert accuracy > 0.9
    info = classifier.save_classifier(model, str(tmp_path), accuracy)
    assert json.loads((tmp_path / "info.json").read_text())["weights_sha256"] == info["weights_sha256"]
    reloaded, info2 = classifier.load_classifier(str(tmp_path))
    assert info2["test_accuracy"] == pytest.approx(accuracy)
    f1 = classifier.feature_extractor(model)(xt)
    f2 = classifier.feature_extractor(reloaded)(xt)
    assert f1.shape == (200, 128)
    np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-6)
    # features separate the classes: a class against itself is closer than against another class
    same = frechet.frechet_distance_of_samples(f1[yt == 0][:30], f2[yt == 0][30:])
    other = frechet.frechet_distance_of_samples(f1[yt == 0], f2[yt == 1])
    assert other > 3 * same

    with open(tmp_path / classifier.WEIGHTS_FILE, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(classifier.ClassifierError, match="sha256"):
        classifier.load_classifier(str(tmp_path))
    with pytest.raises(classifier.ClassifierError, match="no trained feature classifier"):
        classifier.load_classifier(str(tmp_path / "missing"))


def test_interface_is_checked():
    with pytest.raises(classifier.ClassifierError, match="\\[0, 1\\]"):
        classifier.check_labelled(np.full((2, 4, 4, 1), 255.0), np.array([0, 1]))
    with pytest.raises(classifier.ClassifierError, match="labels"):
        classifier.check_labelled(np.zeros((2, 4, 4, 1)), np.array([0.0, 1.0]))
    with pytest.raises(classifier.ClassifierError, match="H, W, C"):
        classifier.check_labelled(np.zeros((2, 16)), np.array([0, 1]))


def test_default_cache_is_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert classifier.default_classifier_dir("npz:/a/b.npz") == "runs/features/npz__a_b.npz"
    assert classifier.find_classifier("fashion_mnist", str(tmp_path / "runs" / "r")) is None
    cache = tmp_path / "runs" / "features" / "fashion_mnist"
    cache.mkdir(parents=True)
    (cache / classifier.INFO_FILE).write_text("{}")
    assert classifier.find_classifier("fashion_mnist") == "runs/features/fashion_mnist"
    # from another working directory, found next to a run in its default runs/<name>
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert classifier.find_classifier("fashion_mnist") is None
    assert classifier.find_classifier("fashion_mnist", str(tmp_path / "runs" / "r")) == str(cache)
