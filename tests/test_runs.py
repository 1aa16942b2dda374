"""runs.py: the run directory's layout and the one-line errors for what is not a usable run. No
training here: config.json is written by hand (the real writer, training.run_record, is covered by
test_training; a trained run's loading by test_cli_evaluate and test_export_savedmodel)."""

import json
import re

import pytest

from tf_dpvae import runs
from tf_dpvae.config import EXAMPLE_KEY, RunConfig


def write_run(directory, config=None, **extra):
    directory.mkdir(parents=True, exist_ok=True)
    record = {**(config or RunConfig()).to_dict(), **extra}
    (directory / runs.CONFIG_FILE).write_text(json.dumps(record))
    return directory


def test_default_run_name_is_one_safe_path_component_with_the_seed():
    config = RunConfig().replace(objective={"reg": "tc"}, prior={"kind": "normal"},
                                 train={"seed": 3}, data={"dataset": "npz:/data/my set.npz"})
    name = runs.default_run_name(config)
    assert name == "tc-normal-npz_data_my_set.npz-seed3"
    assert "/" not in name and " " not in name
    assert runs.default_run_name(RunConfig()).endswith("-seed0")


def test_layout_names_every_directory_from_the_run(tmp_path):
    assert runs.checkpoint_dir(str(tmp_path)) == str(tmp_path / "checkpoints")
    assert runs.checkpoint_dir(str(tmp_path), "best") == str(tmp_path / "checkpoints" / "best")
    assert not runs.is_run(str(tmp_path))
    write_run(tmp_path)
    assert runs.is_run(str(tmp_path)) and not runs.is_run(str(tmp_path / runs.CONFIG_FILE))


def test_read_config_round_trips_and_refuses_what_is_not_a_run(tmp_path):
    config = RunConfig().replace(model={"latent_dim": 3}, train={"seed": 7})
    run = write_run(tmp_path / "run", config)
    assert runs.read_config(str(run)) == config
    accepted = "; give a directory written by python -m tf_dpvae.train (it holds config.json and checkpoints/)"
    with pytest.raises(runs.RunError, match=re.escape(
            f"{str(tmp_path / 'nowhere')!r} is not a run directory: it does not exist{accepted}")):
        runs.read_config(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(runs.RunError, match=re.escape(
            f"{str(tmp_path / 'empty')!r} is not a run directory: it has no config.json{accepted}")):
        runs.read_config(str(tmp_path / "empty"))
    with pytest.raises(runs.RunError, match=re.escape(
            f"{str(run / 'config.json')!r} is not a run directory: it is a file{accepted}")):
        runs.read_config(str(run / "config.json"))
    (run / runs.CONFIG_FILE).write_text('{"model": {"latent_dim": 3}')   # truncated
    with pytest.raises(runs.RunError, match="is not a valid run configuration.*restore it"):
        runs.read_config(str(run))
    (run / runs.CONFIG_FILE).write_text('{"model": 3}')
    with pytest.raises(runs.RunError, match="not a JSON object of sections"):
        runs.read_config(str(run))
    (run / runs.CONFIG_FILE).write_text('{"model": {"latent_dim": -1}}')
    with pytest.raises(runs.RunError, match="latent-dim must be a positive integer, got -1"):
        runs.read_config(str(run))


def test_the_example_record_gives_shape_dtype_and_standardization(tmp_path):
    old = write_run(tmp_path / "old")   # written before the record existed
    assert runs.read_example(str(old)) is None and runs.read_standardization(str(old)) is None
    new = write_run(tmp_path / "new", **{EXAMPLE_KEY: {
        "shape": [5], "dtype": "float32", "standardization": {"mean": [1, 2, 3, 4, 5],
                                                              "std": [1, 1, 2, 2, 3]}}})
    assert runs.read_example(str(new)) == ((5,), "float32")
    assert runs.read_standardization(str(new)) == {"mean": [1.0, 2.0, 3.0, 4.0, 5.0],
                                                   "std": [1.0, 1.0, 2.0, 2.0, 3.0]}
    images = write_run(tmp_path / "images", **{EXAMPLE_KEY: {"shape": [28, 28, 1]}})
    assert runs.read_example(str(images)) == ((28, 28, 1), "float32")
    assert runs.read_standardization(str(images)) is None


def test_a_run_without_checkpoints_or_with_a_bad_choice_is_one_clear_error(tmp_path):
    run = write_run(tmp_path / "run")
    assert runs.read_post_hoc(str(run)) is None
    with pytest.raises(runs.RunError, match="has no checkpoint yet.*train it first"):
        runs.latest_checkpoint(str(run))
    with pytest.raises(runs.RunError, match="has no checkpoint yet"):   # no best: falls to latest
        runs.checkpoint_path(str(run), "best")
    with pytest.raises(runs.RunError, match="checkpoint must be 'best' or 'latest', got 'newest'"):
        runs.checkpoint_path(str(run), "newest")
