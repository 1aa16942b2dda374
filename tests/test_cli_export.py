"""The ``export`` command on a run without a checkpoint (the command's tests that export a trained run
share its training in test_export_savedmodel.py)."""

from tf_dpvae.export.__main__ import main as export_main

from conftest import tiny_config


def test_cli_run_without_checkpoint_is_exit_2(tmp_path, capsys):
    (tmp_path / "config.json").write_text(tiny_config().to_json())
    assert export_main([str(tmp_path), "--out", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint yet" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "models").exists()
