"""The CLI: all 12 objective × prior combinations train; bad input is one line, exit 2, nothing written."""

import json
import os
import subprocess
import sys

import pytest

from tf_dpvae.cli import train
from tf_dpvae.cli.train import main

from conftest import exit_code

SMALL = ["--num-examples", "200", "--batch-size", "20", "--hidden-units", "16", "--flow-units", "16",
         "--flow-blocks", "2", "--disc-units", "16", "--disc-layers", "2", "--steps", "3",
         "--no-export"]  # the export after training: test_train_exports_at_the_end_unless_told_not_to


@pytest.mark.parametrize("prior", ["dp", "normal"])
@pytest.mark.parametrize("reg", ["none", "beta", "betab", "tc", "factor", "info"])
def test_every_combination_trains(tmp_path, capsys, reg, prior):
    out = tmp_path / "run"
    assert main(["--reg", reg, "--prior", prior, "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert f"tensorboard --logdir {out / 'logs'}" in printed
    assert "step 3" in printed
    config = json.loads((out / "config.json").read_text())
    assert (config["objective"]["reg"], config["prior"]["kind"]) == (reg, prior)
    assert (out / "figure.png").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["--reg", "dip"], "argument --reg: invalid choice: 'dip'"),
    (["--prior", "flow"], "argument --prior: invalid choice: 'flow'"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'; accepted:"),
    (["--batch-size", "0"], "batch-size must be a positive integer, got 0"),
    (["--latent-dim", "-2"], "latent-dim must be a positive integer, got -2"),
    (["--beta", "lots"], "argument --beta: invalid float value: 'lots'"),
    (["--lr", "inf"], "lr must be a finite number > 0.0, got inf"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, argv, fragment):
    out = tmp_path / "run"
    assert exit_code(main, [*SMALL, "--out", str(out), *argv]) == 2  # the bad value comes last: it wins
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_out_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["--out", str(target), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"


def test_empty_or_unwritable_out_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)   # the default --out would land here
    (tmp_path / "file").write_text("keep me")
    for out, fragment in (("", "--out must be a directory path, got ''"),
                          (str(tmp_path / "file" / "run"), "is a file"),
                          ("/proc/tf_dpvae_cannot/run", "--out '/proc/tf_dpvae_cannot/run'")):
        assert main([*SMALL, "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
    assert os.listdir(tmp_path) == ["file"]


def test_a_directory_that_cannot_be_created_is_one_line_from_fit(tmp_path, make_config):
    from tf_dpvae import training
    from tf_dpvae.config import ConfigError

    (tmp_path / "file").write_text("keep me")
    with pytest.raises(ConfigError, match="cannot be created"):
        training.fit(make_config(), str(tmp_path / "file" / "run"), verbose=0, log=lambda *_: None)


def test_argparse_errors_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--reg", "dip"])
    assert exc.value.code == 2


def test_help_names_the_paper_symbols(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for fragment in ("weight β of the KL", "weight γ of |KL − C|", "total correlation",
                     "MMD weight is α + λ − 1", "coupling blocks K"):
        assert fragment in text
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == ""


def test_error_after_tensorflow_loads_is_still_one_line_on_the_real_stderr(tmp_path):
    """In a fresh process, TensorFlow's native start-up lines do not reach stderr around the error."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "tf_dpvae.train", "--dataset", "imagenet",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        proc.stderr.strip()] and "unknown dataset 'imagenet'" in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, fragment", [
    ('{"model": {"latent_dim": 3', "does not parse as JSON"),
    ('{"model": {"latent": 3}}', "unknown keys ['latent'] in section 'model'"),
    ('{"modle": {}}', "unknown configuration sections ['modle']"),
    ('{"model": 3}', "section 'model' must be a JSON object"),
])
def test_train_config_file_errors(tmp_path, capsys, text, fragment):
    path = tmp_path / "c.json"
    path.write_text(text)
    out = tmp_path / "run"
    assert train.main(["--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_train_exports_at_the_end_unless_told_not_to(tmp_path, monkeypatch, capsys):
    from tf_dpvae.cli.train import main as train_main

    monkeypatch.chdir(tmp_path)
    small = ["--num-examples", "200", "--batch-size", "20", "--hidden-units", "16", "--flow-units",
             "16", "--flow-blocks", "2", "--steps", "2", "--reg", "none"]
    assert train_main([*small, "--out", "runs/a", "--no-export"]) == 0
    assert not (tmp_path / "saved_models").exists()
    assert train_main([*small, "--out", "runs/a"]) == 0   # nothing left to train; exports version 1
    assert train_main([*small, "--out", "runs/a"]) == 0   # same checkpoint: no second copy
    assert sorted(os.listdir(tmp_path / "saved_models" / "a")) == ["1"]
    printed = capsys.readouterr().out
    assert f"saved model:     {os.path.join('saved_models', 'a', '1')}" in printed
    assert "(unchanged since the last export)" in printed
