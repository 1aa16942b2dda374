"""The feature classifier on small synthetic labelled images: learns, caches, verifies, features."""

import json

import numpy as np
import pytest

from tf_dpvae.evaluation import classifier, frechet


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


def test_features_cli_on_an_npz_and_bad_input(tmp_path, capsys):
    from tf_dpvae.cli import features

    x, y = synthetic(300, 2)
    xt, yt = synthetic(100, 3)
    np.savez(tmp_path / "toy.npz", x_train=(x * 255).astype(np.uint8)[..., 0], y_train=y,
             x_test=(xt * 255).astype(np.uint8)[..., 0], y_test=yt)
    out = tmp_path / "cache"
    assert features.main(["--npz", str(tmp_path / "toy.npz"), "--out", str(out), "--epochs", "2",
                          "--batch-size", "32"]) == 0
    info = json.loads((out / "info.json").read_text())
    assert info["dataset"] == "toy" and info["input_shape"] == [12, 12, 1] and info["test_accuracy"] > 0.8
    assert features.main(["--npz", str(tmp_path / "missing.npz")]) == 2
    assert "expected arrays" in capsys.readouterr().err
    assert features.main(["--dataset", "moons", "--out", str(tmp_path / "m")]) == 2
    assert "not an image data set" in capsys.readouterr().err
    assert features.main(["--dataset", "no such set!", "--out", str(tmp_path / "m")]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_features_cli_uses_the_data_loader_and_its_labels(tmp_path, capsys):
    """--dataset npz:PATH goes through tf_dpvae.data.load: its labels, its split; unlabelled data fail."""
    from tf_dpvae.cli import features

    x, y = synthetic(400, 4)
    np.savez(tmp_path / "lab.npz", images=(x * 255).astype(np.uint8), labels=y)
    np.savez(tmp_path / "unlab.npz", images=(x * 255).astype(np.uint8))
    out = tmp_path / "cache"
    assert features.main(["--dataset", f"npz:{tmp_path / 'lab.npz'}", "--out", str(out),
                          "--epochs", "2", "--batch-size", "32"]) == 0
    info = json.loads((out / "info.json").read_text())
    # no test split in an npz: scored on the loader's validation split, and says so
    assert info["accuracy_split"] == "validation" and info["train_examples"] + info["test_examples"] == 400
    assert "validation accuracy" in capsys.readouterr().out
    assert features.main(["--dataset", f"npz:{tmp_path / 'unlab.npz'}", "--out", str(tmp_path / "u")]) == 2
    assert "no class labels" in capsys.readouterr().err


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
