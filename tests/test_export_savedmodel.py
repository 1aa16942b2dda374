"""export.savedmodel: ``export_run`` and what it writes, served through TF Serving's graph path (the
TF1 loader in a ``tf.compat.v1.Session``, feeding and fetching by tensor name) against the live
model: every signature and its in-graph input checks, versions, metadata, atomicity, the best
checkpoint, locks. The command line's tests that export the trained run are here too: they share its
module-scoped training (a second file would train it again)."""

import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import training
from tf_dpvae.datasets.base import DataError
from tf_dpvae.export import savedmodel
from tf_dpvae.export.__main__ import main as export_main
from tf_dpvae.export.session import ServingSession, op_types
from tf_dpvae.model import build_model

from conftest import tiny_config
from export_cases import SEED, sample_request, unchecked_run


MAX = 64  # the num_samples limit of the main export (small, so the boundary is cheap to test)


SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A FactorVAE with the decoupled prior trained 3 steps, exported once from its run directory:
    (run_dir, version path, the model object training itself trained)."""
    root = tmp_path_factory.mktemp("export")
    run_dir = str(root / "run")
    built = []

    def keep(*args, **kwargs):
        built.append(build_model(*args, **kwargs))
        return built[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "build_model", keep)
        training.fit(tiny_config("factor", "dp"), run_dir, verbose=0, log=lambda *_: None)
    result = savedmodel.export_run(run_dir, str(root / "models"), max_samples=MAX)
    assert (result.version, result.step, result.reused) == (1, 3, False)
    return run_dir, result.path, built[0]


@pytest.fixture(scope="module")
def run(trained):
    return trained[:2]


@pytest.fixture(scope="module")
def live(trained):
    """The reference for every comparison: the very model training trained, not a restored copy
    (so that a restore that missed weights cannot agree with itself)."""
    return trained[2]


@pytest.fixture(scope="module")
def served(run):
    with ServingSession(run[1]) as session:
        yield session


def test_every_signature_matches_the_live_model(served, live):
    # (__saved_model_init_op is the loader's own entry, not a signature a client can call)
    assert set(served.signatures) - {"__saved_model_init_op"} == {
        "serving_default", "sample", "encode", "decode", "reconstruct", "log_prob"}
    tol = dict(rtol=1e-5, atol=1e-5)
    expected = {k: v.numpy() for k, v in live.sample(5, tf.constant(SEED), 0.8).items()}
    for name in ("sample", "serving_default"):
        got = served.run(name, num_samples=np.int32(5), seed=SEED, temperature=np.float32(0.8))
        assert set(got) == {"images", "z", "z0"}
        for key in got:
            np.testing.assert_allclose(got[key], expected[key], **tol)
    # temperature scales the N(0, I) draw in z0
    cold = served.run("sample", num_samples=np.int32(5), seed=SEED, temperature=np.float32(0.4))
    np.testing.assert_allclose(cold["z0"], 0.5 * expected["z0"], rtol=1e-6, atol=1e-7)

    x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    mean, log_var = (t.numpy() for t in live.encode(x))
    got = served.run("encode", images=x)
    np.testing.assert_allclose(got["mean"], mean, **tol)
    np.testing.assert_allclose(got["log_var"], log_var, **tol)
    np.testing.assert_allclose(got["z0"], live.prior.forward(mean)[0].numpy(), **tol)

    z = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(served.run("decode", z=z)["images"], live.decode_mean(z).numpy(), **tol)
    np.testing.assert_allclose(served.run("reconstruct", images=x)["images"], live(x).numpy(), **tol)
    log_prob = served.run("log_prob", z=z)["log_prob"]
    assert log_prob.shape == (4,)
    np.testing.assert_allclose(log_prob, live.prior.log_prob(z).numpy(), **tol)


def test_restore_gives_the_trained_weights_and_the_export_only_the_vae(run, live):
    restored = savedmodel.restore(run[0]).model
    assert len(restored.variables) == len(live.variables)
    for a, b in zip(restored.variables, live.variables):
        if "seed_generator" not in a.path:  # the RNG state is not restored: serving is stateless
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    keras.utils.set_random_seed(1)
    fresh = build_model(tiny_config("factor", "dp"), (None, 2))
    assert not np.allclose(fresh.encoder.weights[0].numpy(), live.encoder.weights[0].numpy())
    exported = tf.train.list_variables(os.path.join(run[1], "variables", "variables"))
    sizes = sum(int(np.prod(shape)) for name, shape in exported if name.endswith("VARIABLE_VALUE"))
    vae = sum(int(np.prod(v.shape)) for v in live.vae_variables)
    assert sizes == vae  # encoder + decoder + flow, nothing else (no discriminator, no optimizer)


def test_same_seed_same_samples_across_reloads_and_seeds_differ(run, served):
    def draw(session, seed):
        return session.run("sample", num_samples=np.int32(8), seed=np.array(seed, np.int32),
                           temperature=np.float32(1.0))["images"]

    first = draw(served, [3, 4])
    np.testing.assert_array_equal(first, draw(served, [3, 4]))
    with ServingSession(run[1]) as reloaded:
        np.testing.assert_array_equal(first, draw(reloaded, [3, 4]))
    assert not np.allclose(first, draw(served, [3, 5]))
    assert not np.allclose(first, draw(served, [4, 4]))


def test_graph_has_only_core_tensorflow_ops(served):
    ops = op_types(served.graph_def)
    assert {"StatelessRandomNormalV2", "MatMul", "Assert"} <= ops  # the walk reaches function bodies
    core = set(dir(tf.raw_ops))
    assert not sorted(ops - core)
    assert not [op for op in ops if "tfp" in op.lower() or "probability" in op.lower()]


def test_saved_model_cli_lists_every_signature(run):
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", run[1], "--all"], capture_output=True,
                           text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "sample", "encode", "decode", "reconstruct", "log_prob"):
        assert f"signature_def['{name}']" in shown.stdout
    for fragment in ("inputs['num_samples']", "inputs['seed']", "inputs['temperature']",
                     "outputs['z0']", "inputs['images']", "outputs['log_prob']"):
        assert fragment in shown.stdout


def test_num_samples_limit_is_inclusive(served):
    assert served.run("sample", **sample_request(MAX))["images"].shape == (MAX, 2)
    assert served.run("sample", **sample_request(1))["images"].shape == (1, 2)


@pytest.mark.parametrize("signature, inputs, message", [
    ("sample", sample_request(0), rf"num_samples must be an integer in \[1, {MAX}\].*got\] \[0\]"),
    ("sample", sample_request(-3), rf"num_samples must be an integer in \[1, {MAX}\].*\[-3\]"),
    ("sample", sample_request(MAX + 1), rf"num_samples must be .*\[{MAX + 1}\]"),
    ("sample", sample_request(temperature=float("nan")), r"temperature must be a finite number"),
    ("sample", sample_request(temperature=-1.0), r"temperature must be a finite number >= 0"),
    ("sample", sample_request(temperature=3e38), r"temperature must be .* <= 10; got\] \[3e\+38\]"),
    ("log_prob", {"z": np.full((2, 2), 1e30, np.float32)},
     r"z must lie within \[-10000, 10000\] .*largest magnitude:\] \[1e\+30\]"),
    ("encode", {"images": np.full((2, 2), 1e6, np.float32)},
     r"images must lie within \[-10000, 10000\] .*largest magnitude:\] \[1e\+06\]"),
    # seed's spec is fully static ([2]), so the optimizer of the serving session may fold our check
    # away; the stateless RNG op then refuses it itself ("seed must have shape [2], not [3]").
    ("sample", sample_request(seed=[1, 2, 3]), r"seed must have shape \[2\].*\[3\]"),
    ("sample", sample_request(seed=[[1, 2]]), r"seed must have shape \[2\].*\[1[ ,]2\]"),
    ("sample", {**sample_request(), "num_samples": np.array([4], np.int32)},
     r"num_samples must have shape \[\]; got shape\] \[1\]"),
    ("encode", {"images": np.zeros((3, 5), np.float32)},
     r"images must have shape \[\?, 2\]; got shape\] \[3 5\]"),
    ("reconstruct", {"images": np.zeros((3,), np.float32)},
     r"images must have shape \[\?, 2\]; got shape\] \[3\]"),
    ("decode", {"z": np.zeros((3, 2, 1), np.float32)}, r"z must have shape \[\?, 2\]"),
    ("log_prob", {"z": np.zeros((3, 3), np.float32)}, r"z must have shape \[\?, 2\]; got shape\] \[3 3\]"),
])
def test_bad_requests_fail_with_invalid_argument_naming_the_value(served, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        unchecked_run(served, signature, **inputs)


BATCH_INPUTS = {"encode": "images", "reconstruct": "images", "decode": "z", "log_prob": "z"}


@pytest.mark.parametrize("signature", sorted(BATCH_INPUTS))
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "empty"])
def test_non_finite_or_empty_batches_fail_with_invalid_argument_naming_the_input(served, signature,
                                                                                 bad):
    """Through the TF1 session path, fed as TF Serving feeds: one NaN or inf in a batch of 3, or a
    batch of 0 rows, is refused by name instead of answered."""
    name = BATCH_INPUTS[signature]
    if bad == "empty":
        value, message = np.zeros((0, 2), np.float32), rf"{name} must hold at least one row; got " \
                                                        r"shape\] \[0 2\]"
    else:
        value = np.ones((3, 2), np.float32)
        value[1, 0] = float(bad)
        message = rf"{name} must be finite \(no NaN or inf\); non-finite values:\] \[1\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        unchecked_run(served, signature, **{name: value})
    assert all(np.isfinite(v).all() for v in served.run(signature, **{name: np.ones((3, 2),
                                                                                    np.float32)}).values())


# Finite requests a hostile client may send (issue 26); each must give finite outputs or InvalidArgument.
EXTREMES = [0.0, 1e-45, -1e-45, 1.0, 3.0, -9999.0, 1e4, -1e4, 1.0001e4, 1e6, 1e30, -3.4e38, 3.4e38]


def hostile_requests():
    for t in [0.0, 1e-45, 0.7, 10.0, 10.001, 1e6, 3e38]:
        yield "sample", sample_request(n=MAX, temperature=t)
    for value in EXTREMES:
        for signature, name in BATCH_INPUTS.items():
            rows = np.full((3, 2), value, np.float32)
            rows[0] = [value, -value]
            yield signature, {name: rows}


def test_finite_requests_give_finite_outputs_or_invalid_argument_on_every_signature(served):
    """Through the TF1 session path (what TF Serving runs): never an inf or NaN in an answer; the
    documented ranges (temperature ≤ 10, |input| ≤ 1e4) are answered, beyond them refused by name."""
    answered, refused = set(), set()
    for signature, inputs in hostile_requests():
        try:
            outputs = served.run(signature, **inputs)
        except tf.errors.InvalidArgumentError as err:
            assert re.search(r"must (be|lie)|not finite", err.message), err.message
            refused.add(signature)
            continue
        for key, value in outputs.items():
            assert np.isfinite(value).all(), (signature, inputs, key)
        if "log_var" in outputs:
            assert -30.0 <= outputs["log_var"].min() and outputs["log_var"].max() <= 30.0
        answered.add(signature)
    assert answered == refused == set(BATCH_INPUTS) | {"sample"}
    # the edges of the documented ranges are answered
    assert np.isfinite(served.run("sample", **sample_request(temperature=10.0))["z"]).all()
    edge = np.array([[1e4, -1e4]], np.float32)
    for signature, name in BATCH_INPUTS.items():
        assert all(np.isfinite(v).all() for v in served.run(signature, **{name: edge}).values())


@pytest.mark.parametrize("temperature", [float("inf"), float("-inf")])
def test_sample_refuses_an_infinite_temperature(served, temperature):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"temperature must be a finite number"):
        unchecked_run(served, "sample", **sample_request(temperature=temperature))


def test_python_feeds_of_the_wrong_shape_are_refused_before_the_graph(served):
    with pytest.raises(ValueError, match="Cannot feed value of shape"):
        served.run("sample", **sample_request(seed=[1, 2, 3]))


def test_second_export_is_version_2_and_leaves_version_1_alone(run, tmp_path):
    out = tmp_path / "models"
    shutil.copytree(run[1], out / "1")  # the fixture's export, with num_samples limit MAX
    before = {p: (out / "1" / p).read_bytes() for p in ("saved_model.pb", "variables/variables.index")}
    second = savedmodel.export_run(run[0], str(out), max_samples=7)
    assert second.version == 2
    assert sorted(os.listdir(out)) == ["1", "2"]  # no temporary directory left behind
    assert before == {p: (out / "1" / p).read_bytes() for p in before}
    meta = savedmodel.read_metadata(second.path)
    assert (meta["max_samples"], meta["step"], meta["example_shape"]) == (7, 3, [2])
    assert meta["checkpoint"].endswith("ckpt-3") and meta["config"]["objective"]["reg"] == "factor"
    with ServingSession(second.path) as session:  # each version keeps its own limit
        session.run("sample", **sample_request(7))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[1, 7\]"):
            session.run("sample", **sample_request(8))
    # the export after training does not add a copy of an unchanged checkpoint ...
    again = savedmodel.export_run(run[0], str(out), max_samples=7, skip_if_exported=True)
    assert (again.version, again.reused, sorted(os.listdir(out))) == (2, True, ["1", "2"])


def absolute_paths(value, where="metadata"):
    """Every string in ``value`` (JSON-ready) that is an absolute path or holds one after a prefix
    (``npz:/…``), with where it sits."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in absolute_paths(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in absolute_paths(v, f"{where}[{i}]")]
    if isinstance(value, str) and (os.path.isabs(value) or os.path.isabs(value.partition(":")[2])
                                   or os.sep + "tmp" in value or os.path.expanduser("~") in value):
        return [(where, value)]
    return []


def test_export_metadata_is_portable_and_says_where_it_came_from(run, tmp_path):
    """Issue 24: no absolute path (the run's name and paths relative to the run instead), the package
    version and commit, the checkpoint's validation −ELBO and digest, and for vector data the
    standardization with the recipe that maps served samples to data units."""
    from tf_dpvae import __version__
    from tf_dpvae.export import to_data_units

    meta = savedmodel.read_metadata(run[1])
    assert absolute_paths(meta) == []
    assert meta["run"] == "run" and meta["checkpoint"] == os.path.join("checkpoints", "best", "ckpt-3")
    assert os.path.isfile(os.path.join(run[0], meta["checkpoint"] + ".index"))
    assert meta["tf_dpvae"] == __version__ and len(meta["commit"].split("+")[0]) in (40, 7)
    best = json.loads(open(os.path.join(run[0], "checkpoints", "best", "best.json")).read())
    assert meta["validation_negative_elbo"] == pytest.approx(best["val_nelbo"], rel=1e-6)
    assert len(meta["checkpoint_sha256"]) == 64
    constants = meta["standardization"]
    assert len(constants["mean"]) == len(constants["std"]) == 2 and "x = images * std" in meta["data_units"]
    images = np.array([[0.0, 0.0], [1.0, -1.0]], np.float32)
    np.testing.assert_allclose(to_data_units(images, meta)[1], np.array(constants["mean"])
                               + np.array(constants["std"]) * [1.0, -1.0], rtol=1e-6)
    np.testing.assert_array_equal(to_data_units(images, {}), images)   # image exports: unchanged
    # a run elsewhere (an npz data set outside the run's folder, a sibling source run): names only
    outside = {"data": {"dataset": "npz:/data/sets/points.npz"},
               "source": os.path.join(os.path.dirname(os.path.abspath(run[0])), "src", "checkpoints")}
    assert savedmodel.portable(outside, run[0]) == {
        "data": {"dataset": "npz:points.npz"}, "source": os.path.join("..", "src", "checkpoints")}


def test_interrupted_export_leaves_no_version_behind(run, live, tmp_path, monkeypatch):
    """Interrupted (Ctrl-C, a BaseException) after the SavedModel's files were written into the
    temporary directory but before the rename: no new version, no temporary directory."""
    out = tmp_path / "models"
    shutil.copytree(run[1], out / "1")
    written = []

    def fail_after_writing(directory):
        written.append(sorted(os.listdir(directory)))  # the SavedModel is complete by now
        raise KeyboardInterrupt

    monkeypatch.setattr(savedmodel.files, "fsync_tree", fail_after_writing)
    with pytest.raises(KeyboardInterrupt):
        savedmodel.export_model(live, str(out))
    assert "saved_model.pb" in written[0]
    assert sorted(os.listdir(out)) == ["1"]


def test_a_checkpoint_of_another_architecture_is_refused(run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads(open(os.path.join(run[0], "config.json")).read())
    config["model"]["hidden_units"] = 32
    (other / "config.json").write_text(json.dumps(config))
    os.symlink(os.path.join(run[0], "checkpoints"), other / "checkpoints")
    with pytest.raises((AssertionError, ValueError), match="[Ss]hape"):
        savedmodel.restore(str(other))


def test_stale_export_temporaries_are_cleaned_and_live_ones_kept(run, tmp_path):
    import fcntl
    import time

    out = tmp_path / "models"
    dead = out / ".tmp-export-dead"            # killed while writing: marker, nobody holds its flock
    dead.mkdir(parents=True)
    (dead / savedmodel.WRITING).write_text("")
    (dead / "saved_model.pb").write_text("partial")
    old = out / ".tmp-export-old"              # killed before the marker existed, long ago
    old.mkdir()
    os.utime(old, (time.time() - 2 * savedmodel.STALE_GRACE_SECONDS,) * 2)
    young = out / ".tmp-export-young"          # no marker yet, just created: maybe alive
    young.mkdir()
    live = out / ".tmp-export-live"            # another export writing now
    live.mkdir()
    (live / savedmodel.WRITING).write_text("")
    fd = os.open(live / savedmodel.WRITING, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = savedmodel.export_run(run[0], str(out), max_samples=5)
        left = sorted(os.listdir(out))
    finally:
        os.close(fd)
    assert left == [".tmp-export-live", ".tmp-export-young", str(result.version)]
    assert savedmodel.WRITING not in os.listdir(result.path)   # the marker is not published
    savedmodel.clean_stale_temporaries(str(out))   # the live one's writer has gone now
    assert sorted(os.listdir(out)) == [".tmp-export-young", str(result.version)]


def test_export_and_evaluation_read_the_best_checkpoint_unless_told_latest(run, tmp_path):
    """A run whose best checkpoint (lowest validation negative ELBO) is not its latest: export and
    evaluation read the best one by default, ``latest`` on request, and a run without a best
    checkpoint falls back to its latest, saying so."""
    from tf_dpvae import runs
    from tf_dpvae.evaluation import run as evaluation_run
    from tf_dpvae.model import make_checkpoint

    assert os.path.exists(os.path.join(run[0], "checkpoints", "best", "best.json"))  # fit wrote it
    copy = str(tmp_path / "run")
    shutil.copytree(run[0], copy)
    shutil.rmtree(os.path.join(copy, "checkpoints", "best"))
    latest = savedmodel.restore(copy).model
    assert savedmodel.restore(copy).checkpoint_kind == "latest"  # no best: the latest, named so
    shifted = [v.numpy() + 0.5 for v in latest.decoder.trainable_variables]
    for v, value in zip(latest.decoder.trainable_variables, shifted):
        v.assign(value)
    best_dir = os.path.join(copy, "checkpoints", "best")
    tf.train.CheckpointManager(make_checkpoint(latest, with_optimizers=False), best_dir,
                               max_to_keep=1).save(checkpoint_number=2)

    best = savedmodel.restore(copy)
    assert (best.checkpoint_kind, best.step) == ("best", 2)
    assert best.checkpoint.endswith(os.path.join("best", "ckpt-2"))
    for v, value in zip(best.model.decoder.trainable_variables, shifted):
        np.testing.assert_array_equal(v.numpy(), value)
    assert savedmodel.restore(copy, checkpoint="latest").step == 3
    exported = savedmodel.export_run(copy, str(tmp_path / "models"), max_samples=MAX)
    metadata = savedmodel.read_metadata(exported.path)
    assert (metadata["checkpoint_kind"], metadata["step"]) == ("best", 2)
    exported = savedmodel.export_run(copy, str(tmp_path / "models"), max_samples=MAX,
                                     checkpoint="latest")
    assert savedmodel.read_metadata(exported.path)["checkpoint_kind"] == "latest"
    restored = evaluation_run.restore_run(copy)
    assert (restored.checkpoint_kind, restored.step) == ("best", 2)
    assert evaluation_run.restore_run(copy, "latest").step == 3
    with pytest.raises(runs.RunError, match="checkpoint must be 'best' or 'latest'"):
        runs.checkpoint_path(copy, "newest")


def test_export_of_a_run_whose_data_set_is_gone_uses_the_recorded_shape(tmp_path):
    from tf_dpvae import runs

    data = tmp_path / "images.npz"
    np.savez(data, images=np.random.default_rng(0).uniform(size=(60, 28, 28, 1)).astype(np.float32))
    config = tiny_config("none", "normal", data={"dataset": f"npz:{data}"},
                         model={"conv_filters": 2, "conv_units": 8}, train={"batch_size": 10, "steps": 2})
    run_dir = tmp_path / "run"
    training.fit(config, str(run_dir), verbose=0, log=lambda *_: None)
    assert runs.read_example(str(run_dir)) == ((28, 28, 1), "float32")
    data.unlink()   # the data set is no longer present
    result = savedmodel.export_run(str(run_dir), str(tmp_path / "models"))
    assert savedmodel.read_metadata(result.path)["example_shape"] == [28, 28, 1]

    # A run written before the record: export falls back to the data set, here gone, and says so.
    record = json.loads((run_dir / "config.json").read_text())
    del record["example"]
    (run_dir / "config.json").write_text(json.dumps(record))
    assert runs.read_example(str(run_dir)) is None
    with pytest.raises(DataError, match="no such file"):   # the data module's own error
        savedmodel.export_run(str(run_dir), str(tmp_path / "models"))


def test_a_run_without_the_recorded_shape_still_exports_from_its_data(run, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    record = json.loads(open(os.path.join(run[0], "config.json")).read())
    example = record.pop("example")   # with the two moons' standardization constants (issue 24)
    assert (example["shape"], example["dtype"]) == ([2], "float32") and "standardization" in example
    (old / "config.json").write_text(json.dumps(record))
    os.symlink(os.path.join(run[0], "checkpoints"), old / "checkpoints")
    result = savedmodel.export_run(str(old), str(tmp_path / "models"))
    assert savedmodel.read_metadata(result.path)["example_shape"] == [2]


# ----------------------------------------------------------------------------------- command lines
def test_cli_exports_to_saved_models_run_name_by_default(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saved_models" / "run" / "1").mkdir(parents=True)  # an existing version
    assert export_main([run[0], "--max-samples", "12"]) == 0
    printed = capsys.readouterr().out
    path = os.path.join("saved_models", "run", "2")
    assert f"exported:   {path} (version 2, best checkpoint, training step 3)" in printed
    meta = savedmodel.read_metadata(path)
    assert meta["max_samples"] == 12 and meta["run"] == os.path.basename(run[0])   # no host path
    assert os.listdir(os.path.join("saved_models", "run", "1")) == []


@pytest.mark.parametrize("make_argv, fragment", [
    (lambda tmp, run_dir: [str(tmp / "nope")], "is not a run directory: it does not exist"),
    (lambda tmp, run_dir: [str(tmp)], "is not a run directory: it has no config.json"),
    (lambda tmp, run_dir: [run_dir, "--max-samples", "0"], "max-samples must be a positive integer, got 0"),
    (lambda tmp, run_dir: [run_dir, "--max-samples", "many"], "invalid int value: 'many'"),
    (lambda tmp, run_dir: [run_dir, "--out", str(tmp / "file")], "is a file; give a directory"),
])
def test_cli_bad_input_is_one_line_exit_2(run, tmp_path, capsys, make_argv, fragment):
    (tmp_path / "file").write_text("keep me")
    try:
        code = export_main(make_argv(tmp_path, run[0]))
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize("value", [2 ** 31, 1099511627776])
def test_cli_max_samples_beyond_int32_is_refused_and_nothing_published(run, tmp_path, capsys, value):
    code = export_main([run[0], "--out", str(tmp_path / "models"), "--max-samples", str(value)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "at most 2,147,483,647" in err[0] and f"{value:,}" in err[0]
    assert not (tmp_path / "models").exists()


@pytest.fixture
def read_only_mount(tmp_path):
    """A small tmpfs under tmp_path, remountable read-only (root only); skipped where mounting is
    not allowed."""
    from conftest import mounted_tmpfs

    yield from mounted_tmpfs(tmp_path / "share", "64m")


@pytest.mark.parametrize("with_lock_file", [True, False])
def test_an_archived_run_on_a_read_only_share_exports_with_a_notice(run, read_only_mount, tmp_path,
                                                                    capfd, with_lock_file):
    """Issue 26: the lock file cannot be created or written on a read-only share; the export to a
    writable --out still works, says how it locked (or that it could not), and writes nothing there."""
    archived = read_only_mount / "run"
    shutil.copytree(run[0], archived)
    if not with_lock_file:
        os.remove(archived / ".lock")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    before = sorted(os.listdir(archived))
    capfd.readouterr()
    assert export_main([str(archived), "--out", str(tmp_path / "models")]) == 0
    err = capfd.readouterr().err
    assert ("read-only: holding its lock without writing a record" if with_lock_file
            else "read-only and has no lock file: reading it without a lock") in err, err
    assert sorted(os.listdir(archived)) == before
    assert os.path.isdir(tmp_path / "models" / "1" / "variables")


def test_export_says_when_it_takes_over_a_stale_lock(run, tmp_path, capfd):
    """Issue 26: a lock record left by a process that is gone is taken over, and the export says so."""
    copy = tmp_path / "run"
    shutil.copytree(run[0], copy)
    (copy / ".lock").write_text(json.dumps({"pid": 999999, "host": "gone", "purpose": "train",
                                            "started": "2026-01-01T00:00:00+00:00"}))
    capfd.readouterr()
    assert export_main([str(copy), "--out", str(tmp_path / "models")]) == 0
    err = capfd.readouterr().err
    assert f"taking over the lock of {copy} left by pid 999999 on host gone" in err, err
    assert (copy / ".lock").read_text() == ""
