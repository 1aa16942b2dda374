"""TensorBoard summaries (summaries.py) read back from the event files of a tiny run and of a tiny
Table 1 run: one step axis, one HParams session per run with its hparams and metrics, the run's text,
the best epoch's figure kept."""

import glob
import json
import os

import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from tf_dpvae import summaries, training


def accumulator(log_dir):
    acc = EventAccumulator(log_dir, size_guidance={"tensors": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def scalar_steps(log_dir):
    """{tag: [steps]} of every scalar-like tensor (rank 0) under log_dir itself."""
    acc = accumulator(log_dir)
    out = {}
    for tag in acc.Tags()["tensors"]:
        events = acc.Tensors(tag)
        if events and not events[0].tensor_proto.tensor_shape.dim:
            out[tag] = [e.step for e in events]
    return out


def sessions(root):
    """{run folder: (hparams dict, directory)} of every HParams session start under root."""
    found = {}
    for events in glob.glob(os.path.join(root, "**", "events.out.tfevents.*"), recursive=True):
        directory = os.path.dirname(events)
        for event in tf.compat.v1.train.summary_iterator(events):
            for value in event.summary.value:
                if value.tag != hparams_metadata.SESSION_START_INFO_TAG:
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                info = data.session_start_info
                hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                           for k, v in info.hparams.items()}
                found.setdefault(info.group_name or directory, []).append((hparams, directory))
    return found


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from conftest import tiny_config

    out = tmp_path_factory.mktemp("run")
    config = tiny_config("factor", "dp", train={"steps": 0, "epochs": 3, "log_every": 4})
    result = training.fit(config, str(out), verbose=0, log=lambda *_: None)
    return out, result


def test_every_scalar_is_on_the_optimizer_step(tiny_run):
    out, result = tiny_run
    epoch_ends = [10, 20, 30]   # 200 examples, batch 20
    train = scalar_steps(str(out / "logs" / "train"))
    assert train["loss"] == [4, 8, 10, 12, 16, 20, 24, 28, 30]   # every 4 steps and epochs' ends
    assert train["grad_norm/vae"] == train["grad_norm/discriminator"] == train["loss"]
    validation = scalar_steps(str(out / "logs" / "validation"))
    assert set(validation) >= {"loss", "nelbo", "kl", "tc", "disc_loss"}
    assert all(steps == epoch_ends for steps in validation.values())
    assert not any(tag.startswith(("epoch_", "evaluation_")) for tag in {*train, *validation})
    top = scalar_steps(str(out / "logs"))
    best = json.loads((out / "checkpoints" / "best" / "best.json").read_text())
    assert top["best/step"][-1] == best["step"] and set(top["best/step"]) <= set(epoch_ends)
    every_step = [s for log in ("train", "validation", "latents", "images")
                  if (out / "logs" / log).is_dir()
                  for steps in scalar_steps(str(out / "logs" / log)).values() for s in steps]
    assert max(every_step) == result.step == 30


def test_the_best_epoch_figure_and_the_run_text_are_kept(tiny_run):
    out, _ = tiny_run
    acc = accumulator(str(out / "logs"))
    best = json.loads((out / "checkpoints" / "best" / "best.json").read_text())
    figures = acc.Tensors("best/figure")
    assert figures[-1].step == best["step"]
    text = {tag: acc.Tensors(tag)[-1].tensor_proto.string_val[0].decode()
            for tag in ("run/configuration", "run/command", "run/version", "run/best")}
    assert json.loads(text["run/configuration"].strip("`\n"))["objective"]["reg"] == "factor"
    assert json.loads(text["run/best"].strip("`\n"))["step"] == best["step"]
    assert text["run/version"].startswith("tf_dpvae ") and "commit" in text["run/version"]
    # the 2-D figure: every FIGURE_EVERY epochs and at the last (3 epochs: the last only)
    assert [e.step for e in accumulator(str(out / "logs" / "latents")).Tensors("figure")] == [30]


def test_one_hparams_session_with_the_settings_of_its_objective(tiny_run):
    out, _ = tiny_run
    found = sessions(str(out / "logs"))
    assert len(found) == 1
    (hparams, directory), = next(iter(found.values()))
    assert directory == str(out / "logs")
    assert hparams["reg"] == "factor" and hparams["prior"] == "dp" and hparams["latent_dim"] == 2
    assert "objective.factor_gamma" in hparams and "prior.num_blocks" in hparams
    assert not any(k.startswith(("objective.tc_", "objective.mmd", "objective.beta")) for k in hparams)


def test_relevant_hparams_follow_the_objective_and_prior():
    from conftest import tiny_config

    values = summaries.relevant_hparams(tiny_config("tc", "normal"))
    assert {"objective.tc_beta", "objective.tc_estimator"} <= set(values)
    assert not any(k.startswith("prior.") or k == "objective.factor_gamma" for k in values)


# A Table 1's sessions (one per model, post-hoc rows included, with the table's metrics) are read
# from the table test_reproduce.test_a_table_made_with_other_settings_is_refused runs anyway.
