"""TensorBoard summaries (summaries.py) read back from the event files of a tiny run and of a tiny
Table 1 run: one step axis, one HParams session per run with its hparams and metrics, the run's text,
the best epoch's figure kept."""

import glob
import json
import os

import numpy as np
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


def tensorboard_sessions(log_dir):
    """{session name: (hparams, {metric tag: value})} as TensorBoard's HParams dashboard computes them
    for ``tensorboard --logdir log_dir`` (its own plugin code, in process): a metric shows only when
    the run <session>/<group> holds its tag."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as multiplexer_lib
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    multiplexer = multiplexer_lib.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    tb_context = base_plugin.TBContext(
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(log_dir)),
        multiplexer=multiplexer, logdir=str(log_dir))
    request = api_pb2.ListSessionGroupsRequest(allowed_statuses=[api_pb2.STATUS_UNKNOWN],
                                               start_index=0, slice_size=1000)
    groups = list_session_groups.Handler(context.RequestContext(), backend_context.Context(tb_context),
                                         "", request).run().session_groups
    out = {}
    for group in groups:
        hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                   for k, v in group.hparams.items()}
        out[group.name] = (hparams, {m.name.tag: m.value for m in group.metric_values})
    return out, sorted(multiplexer.Runs())


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
    top = scalar_steps(str(out / "logs" / "run"))
    best = json.loads((out / "checkpoints" / "best" / "best.json").read_text())
    assert top["best/step"][-1] == best["step"] and set(top["best/step"]) <= set(epoch_ends)
    every_step = [s for log in ("train", "validation", "latents", "images", "run")
                  if (out / "logs" / log).is_dir()
                  for steps in scalar_steps(str(out / "logs" / log)).values() for s in steps]
    assert max(every_step) == result.step == 30


def test_the_best_epoch_figure_and_the_run_text_are_kept(tiny_run):
    out, _ = tiny_run
    acc = accumulator(str(out / "logs" / "run"))
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
    assert directory == str(out / "logs" / "run")
    assert hparams["reg"] == "factor" and hparams["prior"] == "dp" and hparams["latent_dim"] == 2
    assert "objective.factor_gamma" in hparams and "prior.num_blocks" in hparams
    assert not any(k.startswith(("objective.tc_", "objective.mmd", "objective.beta")) for k in hparams)


def test_tensorboard_shows_one_session_with_hparams_and_metrics_and_no_run_named_dot(tiny_run):
    """What the HParams dashboard of ``tensorboard --logdir RUN/logs`` shows, computed by
    TensorBoard's own code: one session with the run's hparams and its metrics together (a session at
    logs/ itself would be the run "." and find no metric of a group: "./validation" is no run)."""
    out, _ = tiny_run
    best = json.loads((out / "checkpoints" / "best" / "best.json").read_text())
    found, runs = tensorboard_sessions(out / "logs")
    assert "." not in runs and not glob.glob(str(out / "logs" / "events.out.tfevents.*"))
    assert set(runs) >= {"run", "train", "validation", "latents"}
    (hparams, metrics), = found.values()
    assert (hparams["reg"], hparams["prior"], hparams["seed"]) == ("factor", "dp", 0)
    assert metrics["best/step"] == best["step"]
    assert metrics["best/val_nelbo"] == pytest.approx(best["val_nelbo"], rel=1e-6)


def test_the_train_step_graph_is_written_once(tiny_run):
    """Graphs dashboard: the compiled train function, traced on its first call of the fit only, which
    ends at step 2 (steps_per_execution = gcd(10 steps per epoch, log_every 4, 30 steps) = 2)."""
    out, _ = tiny_run
    events = [(event.step, value.metadata.plugin_data.plugin_name)
              for path in glob.glob(str(out / "logs" / "train" / "events.out.tfevents.*"))
              for event in tf.compat.v1.train.summary_iterator(path)
              for value in event.summary.value if value.tag == "train_step"]
    assert events == [(2, "graph_run_metadata_graph")]


def test_the_projector_files_are_what_tensorboard_reads(tmp_path):
    """``write_projector``: TensorBoard's projector plugin lists the run's embeddings, reads each
    tensor back as written, and finds the labels and the sprite (one tile per image)."""
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as multiplexer_lib
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector import projector_plugin

    rng = np.random.default_rng(0)
    codes = {"z = μ(x)": rng.normal(size=(10, 3)), "z0 = g(μ(x))": rng.normal(size=(10, 3))}
    images = rng.random((10, 6, 5, 1)).astype(np.float32)
    run = tmp_path / "logs" / "run"
    with tf.summary.create_file_writer(str(run)).as_default():   # a run has event files
        tf.summary.scalar("x", 1.0, step=0)
    summaries.write_projector(str(run), codes, labels=np.arange(10) % 3,
                              class_names=("a", "b", "c"), images=images)
    metadata = (run / "metadata.tsv").read_text().splitlines()
    assert metadata[0] == "index\tlabel" and metadata[1:4] == ["0\ta", "1\tb", "2\tc"]
    sprite = tf.image.decode_png((run / "sprite.png").read_bytes()).numpy()
    assert sprite.shape == (4 * 6, 4 * 5, 1)   # ⌈√10⌉ = 4 tiles a side
    np.testing.assert_allclose(sprite[6:12, 5:10, 0] / 255, images[5, ..., 0], atol=1 / 255)
    multiplexer = multiplexer_lib.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path / "logs"))
    multiplexer.Reload()
    plugin = projector_plugin.ProjectorPlugin(base_plugin.TBContext(
        logdir=str(tmp_path / "logs"), multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path / "logs"))))
    plugin._update_configs()
    config = plugin._configs["run"]
    assert [e.tensor_name for e in config.embeddings] == list(codes)
    for embedding, values in zip(config.embeddings, codes.values()):
        assert embedding.sprite.single_image_dim == [5, 6] and embedding.metadata_path
        read = projector_plugin._read_tensor_tsv_file(str(run / embedding.tensor_path))
        np.testing.assert_allclose(read, values, rtol=1e-5)


def test_relevant_hparams_follow_the_objective_and_prior():
    from conftest import tiny_config

    values = summaries.relevant_hparams(tiny_config("tc", "normal"))
    assert {"objective.tc_beta", "objective.tc_estimator"} <= set(values)
    assert not any(k.startswith("prior.") or k == "objective.factor_gamma" for k in values)


# A Table 1's sessions (one per model, post-hoc rows included, with the table's metrics) are read
# from the table test_cli_reproduce.test_a_table_made_with_other_settings_is_refused runs anyway.
