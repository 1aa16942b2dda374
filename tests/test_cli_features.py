"""The ``features`` command: a classifier trained from an npz archive or through the data loader, and
bad input."""

import json

import numpy as np

from classifier_cases import synthetic


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
