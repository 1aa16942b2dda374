"""fit(): what a run leaves behind, resuming, the NaN guard, and --out checks (tiny real runs)."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tf_dpvae import data as data_lib
from tf_dpvae import training
from tf_dpvae.config import ConfigError


def tags(log_dir):
    acc = EventAccumulator(log_dir, size_guidance={"tensors": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc.Tags()


def test_run_leaves_logs_checkpoint_config_and_figure(tmp_path, make_config):
    config = make_config("factor", "dp", train={"steps": 0, "epochs": 2})
    result = training.fit(config, str(tmp_path), verbose=0, log=lambda *_: None)
    assert result.step == 2 * (200 // 20)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["objective"]["reg"] == "factor"
    example = saved["example"]   # export needs no data set; vector data maps back to data units
    assert {k: example[k] for k in ("shape", "dtype")} == {"shape": [2], "dtype": "float32"}
    assert len(example["standardization"]["mean"]) == len(example["standardization"]["std"]) == 2
    assert saved["data"]["dataset"] == "moons"   # the data set that config names, loaded by fit
    assert result.checkpoint.endswith(f"ckpt-{result.step}")
    assert os.path.getsize(result.figure) > 10_000
    train_tags = set(tags(str(tmp_path / "logs" / "train"))["tensors"])
    expected = {"loss", "recon", "kl", "tc", "log_det", "disc_loss", "disc_accuracy", "nelbo"}
    # one tag per term, train and validation as two runs of it, every point at the optimizer's step
    assert expected | {"learning_rate", "grad_norm/vae", "grad_norm/discriminator"} <= train_tags
    assert expected <= set(tags(str(tmp_path / "logs" / "validation"))["tensors"])
    latent_tags = tags(str(tmp_path / "logs" / "latents"))
    assert {"z/dim_0", "z/dim_1", "z0/dim_0", "z0/dim_1", "figure"} <= set(latent_tags["tensors"])
    # the figure every FIGURE_EVERY (5) epochs and at the last: here the last of 2
    acc = EventAccumulator(str(tmp_path / "logs" / "latents"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("figure")] == [20]
    # scalars every log_every (= 50 by default; here 5) steps and at each epoch's end, at the
    # optimizer's step; validation at each epoch's end
    result = training.fit(config.replace(train={"epochs": 3, "log_every": 5}), str(tmp_path),
                          verbose=0, log=lambda *_: None)
    acc = EventAccumulator(str(tmp_path / "logs" / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("learning_rate")] == [10, 20, 25, 30]
    assert [e.step for e in acc.Tensors("nelbo")] == [10, 20, 25, 30]
    acc = EventAccumulator(str(tmp_path / "logs" / "validation"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("nelbo")] == [10, 20, 30]
    # HParams: one session in the run's logs/run directory, and the run described as text
    logs = tags(str(tmp_path / "logs" / "run"))["tensors"]
    assert {"_hparams_/session_start_info", "run/configuration", "run/command", "run/version",
            "run/best", "best/val_nelbo", "best/figure"} <= set(logs)


def test_batch_larger_than_the_data_set_is_refused_before_anything_is_written(tmp_path, make_config):
    config = make_config("none", "dp", train={"batch_size": 300})
    with pytest.raises(ConfigError, match="batch-size 300 is larger than the training set "
                                          r"\(200 examples\)"):
        training.fit(config, str(tmp_path / "run"), verbose=0, log=lambda *_: None)
    assert not (tmp_path / "run").exists()


def test_rerun_resumes_instead_of_restarting(tmp_path, make_config):
    config = make_config("betab", "dp", train={"steps": 3})
    first = training.fit(config, str(tmp_path), verbose=0, log=lambda *_: None)
    assert (first.step, first.resumed_from) == (3, 0)
    again = training.fit(config.replace(train={"steps": 7}), str(tmp_path), verbose=0,
                         log=lambda *_: None)
    assert (again.step, again.resumed_from) == (7, 3)
    # nothing left to do: the run is not repeated
    third = training.fit(config.replace(train={"steps": 7}), str(tmp_path), verbose=0,
                         log=lambda *_: None)
    assert (third.step, third.resumed_from, third.final_logs) == (7, 7, {})


def test_resume_restores_weights_optimizer_and_rng_exactly(tmp_path, make_config):
    """13 + 7 steps with a restart in between (across an epoch boundary, 10 steps per epoch) equal
    20 steps straight through: same weights, optimizer slots, training RNG and data order."""
    config = make_config("info", "dp", train={"steps": 13, "epochs": 2})
    quiet = {"verbose": 0, "log": lambda *_: None}
    training.fit(config, str(tmp_path / "split"), **quiet)
    split = training.fit(config.replace(train={"steps": 20}), str(tmp_path / "split"), **quiet)
    straight = training.fit(config.replace(train={"steps": 20}), str(tmp_path / "straight"), **quiet)
    assert split.resumed_from == 13 and split.step == straight.step == 20
    names = [n for n, _ in tf.train.list_variables(straight.checkpoint)
             if n.startswith(("weights/", "optimizer/"))]
    # every model variable is in the checkpoint: encoder, decoder, each coupling network, the RNG
    assert sum(n.startswith("weights/") for n in names) == len(straight.model.variables)
    assert any("coupling_0" in n for n in names) and any("reparameterization_seed" in n for n in names)
    # the evaluation RNG is the one thing that may differ: validation ran at other steps
    compared = [n for n in names if "evaluation_seed" not in n]
    for name in compared:
        np.testing.assert_allclose(tf.train.load_variable(split.checkpoint, name),
                                   tf.train.load_variable(straight.checkpoint, name),
                                   rtol=1e-5, atol=1e-6, err_msg=name)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, make_config):
    config = make_config("none", "dp", train={"steps": 3})
    good = training.fit(config, str(tmp_path), verbose=0, log=lambda *_: None)
    def files_under(root):  # every file, the best checkpoint's directory included
        return {p: open(p, "rb").read() for p in glob.glob(str(root / "**" / "*"), recursive=True)
                if os.path.isfile(p)}

    files = files_under(tmp_path / "checkpoints")
    splits = data_lib.load(config.data, 0)
    # named as the run's data set, so that the run resumes (other names are recorded as arrays:NAME)
    poisoned = data_lib.Splits(np.full_like(splits.train, np.nan), splits.validation, splits.name)
    with pytest.raises(training.TrainingDiverged, match=r"non-finite at step 4.*ckpt-3"):
        training.fit(config.replace(train={"steps": 0}), str(tmp_path), splits=poisoned, verbose=0,
                     log=lambda *_: None)
    assert files_under(tmp_path / "checkpoints") == files
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")) == good.checkpoint


def test_out_must_be_a_directory_with_the_same_settings(tmp_path, make_config):
    config = make_config("none", "dp")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        training.fit(config, str(a_file), verbose=0)
    training.fit(config, str(tmp_path / "run"), verbose=0, log=lambda *_: None)
    with pytest.raises(ConfigError, match=r"different settings \(objective.reg\)"):
        training.fit(make_config("beta", "dp"), str(tmp_path / "run"), verbose=0)


@pytest.fixture
def no_figures(monkeypatch):
    """The moons figure (matplotlib, about half of a tiny run's time) as a 1-pixel PNG: for tests
    about checkpoints, not pictures."""
    from conftest import one_pixel_png
    monkeypatch.setattr(training, "moons_figure_png", one_pixel_png)


def test_damaged_latest_checkpoints_resume_from_the_newest_intact_one(tmp_path, make_config,
                                                                      no_figures):
    """Checkpoints at steps 4, 8 and 12; the state file garbled, ckpt-12's .index garbled and ckpt-8's
    .data truncated. The rerun says so in one line, resumes from ckpt-4 (not from step 0), and ends
    at step 12 with the weights and optimizer state of an undisturbed 12-step run, bit for bit (all
    but the evaluation RNG, as in test_resume_restores_...); the rotation deleted nothing intact on
    the way and replaced the damaged checkpoints."""
    from tf_dpvae import checkpoints

    config = make_config("beta", "dp", train={"steps": 0, "epochs": 3, "batch_size": 50})
    quiet = {"verbose": 0, "log": lambda *_: None}
    damaged_dir = tmp_path / "damaged"
    training.fit(config, str(damaged_dir), **quiet)
    ckpt = damaged_dir / "checkpoints"
    assert checkpoints.on_disk(str(ckpt)) == [str(ckpt / f"ckpt-{n}") for n in (4, 8, 12)]
    (ckpt / "checkpoint").write_text("model_checkpoint_path: {{{ garbled")
    index = bytearray((ckpt / "ckpt-12.index").read_bytes())
    index[len(index) // 3: len(index) // 3 + 32] = bytes(32)
    (ckpt / "ckpt-12.index").write_bytes(bytes(index))
    data = ckpt / "ckpt-8.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])

    lines = []
    resumed = training.fit(config, str(damaged_dir), verbose=0, log=lines.append)
    straight = training.fit(config, str(tmp_path / "straight"), **quiet)
    notice = [line for line in lines if "skipping damaged" in line]
    assert len(notice) == 1 and "state file" in notice[0] and "ckpt-12 (" in notice[0] \
        and "ckpt-8 (" in notice[0] and notice[0].endswith("using ckpt-4, the newest intact one")
    assert (resumed.resumed_from, resumed.step, straight.step) == (4, 12, 12)
    assert checkpoints.on_disk(str(ckpt)) == [str(ckpt / f"ckpt-{n}") for n in (4, 8, 12)]
    assert all(checkpoints.damage(p) is None for p in checkpoints.on_disk(str(ckpt)))
    assert tf.train.latest_checkpoint(str(ckpt)) == resumed.checkpoint == str(ckpt / "ckpt-12")
    names = [n for n, _ in tf.train.list_variables(straight.checkpoint)
             if n.startswith(("weights/", "optimizer/")) and "evaluation_seed" not in n]
    assert len(names) > 20
    for name in names:
        np.testing.assert_array_equal(tf.train.load_variable(resumed.checkpoint, name),
                                      tf.train.load_variable(straight.checkpoint, name),
                                      err_msg=name)


def test_no_intact_checkpoint_or_a_damaged_config_is_an_error_not_a_fresh_start(
        tmp_path, make_config, no_figures):
    from tf_dpvae import checkpoints

    config = make_config("none", "dp", train={"steps": 3})
    training.fit(config, str(tmp_path), verbose=0, log=lambda *_: None)
    data = tmp_path / "checkpoints" / "ckpt-3.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])

    def snapshot():
        return {p: open(p, "rb").read() for p in glob.glob(str(tmp_path / "**" / "*"), recursive=True)
                if os.path.isfile(p)}

    before = snapshot()
    with pytest.raises(checkpoints.CheckpointError,
                       match=r"checkpoints holds checkpoints but none reads back whole \(ckpt-3: .*\); "
                             r"refusing to start over"):
        training.fit(config.replace(train={"steps": 6}), str(tmp_path), verbose=0,
                     log=lambda *_: None)
    assert {p: v for p, v in snapshot().items() if not p.endswith(".lock")} == \
        {p: v for p, v in before.items() if not p.endswith(".lock")}
    for damaged in (b'{"objective": {"reg": "no', b"\x00\xff\xfe garbage", b"[1, 2]"):
        (tmp_path / "config.json").write_bytes(damaged)
        with pytest.raises(ConfigError, match=r"the run's configuration .*config.json"):
            training.fit(config, str(tmp_path), verbose=0, log=lambda *_: None)
        assert (tmp_path / "config.json").read_bytes() == damaged
