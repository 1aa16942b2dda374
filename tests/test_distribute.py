"""tf.distribute training (issue 6): mirrored over two logical CPUs follows the single-device run,
two multi-worker processes stay in sync, mixed precision keeps the flow finite, bad settings fail
with one clear line.

Why the mirrored run can match the single-device one to float rounding (not just statistically):
the global batch is split in replica order, each replica takes its slice of the global batch's
reparameterization noise, FactorVAE's permutation runs over the all-gathered global batch, and each
replica's per-example-mean loss is scaled by 1/R before the optimizer sums the gradients. β-TCVAE's
and InfoVAE's estimators are batch statistics: their inputs are all-gathered, so every replica computes
the global batch's value (InfoVAE against the global batch's worth of prior samples, the single-device
draw), and all_gather's gradient (summed over the replicas, sliced back) with the 1/R scaling gives
the single-device gradient. What is left is summation order (two half-batch sums instead of one),
hence the tolerances below. All four objectives run in one worker process (one TensorFlow start).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tf_dpvae import distribute
from tf_dpvae.cli import train
from tf_dpvae.config import ConfigError, RunConfig

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_worker(*args, env=None, timeout=240):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    return subprocess.Popen([sys.executable, WORKER, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def result_of(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def max_relative_difference(a, b):
    assert a.keys() == b.keys()
    worst = 0.0
    for name in a:
        x, y = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
        worst = max(worst, float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-6)))
    return worst


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """Start both multi-worker processes (slow to start) while the mirrored test runs."""
    out = tmp_path_factory.mktemp("multiworker")
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [run_worker("multiworker", str(out / f"worker{i}"), env={"TF_CONFIG": json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": i}})}) for i in range(2)]


def test_mirrored_on_two_cpus_follows_the_single_device_run(tmp_path, two_workers):
    # 8 fits and a resume in one process, beside the two multi-worker processes on 2 shared cores
    result = result_of(run_worker("mirrored", str(tmp_path)), timeout=540)
    for reg in ("none", "factor", "tc", "info", "none-clipped"):
        one, mirrored = result[f"{reg}/one"], result[f"{reg}/mirrored"]
        assert (one["replicas"], mirrored["replicas"]) == (1, 2)
        assert one["step"] == mirrored["step"] == 8
        # the loss trajectory (epoch means of the training loss) moves, and mirrored follows it
        assert abs(one["epoch_loss"][1] - one["epoch_loss"][0]) > 0.1
        np.testing.assert_allclose(mirrored["epoch_loss"], one["epoch_loss"], rtol=1e-4)
        for name, value in one["logs"].items():  # every term, training and validation
            np.testing.assert_allclose(mirrored["logs"][name], value, rtol=1e-3, atol=1e-4,
                                       err_msg=f"{reg}: {name}")
        # after 8 steps every weight agrees to float rounding (and they did move: see the loss)
        assert max_relative_difference(one["weights"], mirrored["weights"]) < 1e-4, reg
    # --clip-norm bounds the global gradient (the same update as on one device, above), and at
    # 0.05 it was active: the clipped run's weights are not the unclipped run's
    assert max_relative_difference(result["none/one"]["weights"],
                                   result["none-clipped/one"]["weights"]) > 1e-3
    # 4 steps mirrored, then resumed on one device for 4 more: the same as 8 steps on one device
    resumed = result["none/resumed"]
    assert (resumed["step"], resumed["resumed_from"]) == (8, 4)
    assert max_relative_difference(result["none/one"]["weights"], resumed["weights"]) < 1e-4


def test_multiworker_processes_end_with_identical_weights(two_workers):
    first, second = (result_of(p) for p in two_workers)
    assert first["replicas"] == second["replicas"] == 2
    assert first["step"] == second["step"] == 3
    assert first["weights"].keys() == second["weights"].keys()
    for name in first["weights"]:
        np.testing.assert_array_equal(first["weights"][name], second["weights"][name], name)
    assert first["logs"] == second["logs"]  # the logs are reduced across the workers


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_step_keeps_the_flow_in_float32_and_finite(precision, make_config):
    import keras
    import tensorflow as tf
    from tf_dpvae.model import build_model

    config = make_config("factor", "dp", train={"mixed_precision": precision})
    model = build_model(config, (None, 2))
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    assert model.encoder.compute_dtype == model.decoder.compute_dtype == precision
    assert model.discriminator.compute_dtype == precision
    assert model.prior.compute_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
        precision == "float16")
    model.build_optimizers()
    x = np.random.default_rng(0).normal(size=(160, 2)).astype("float32")
    before = [v.numpy().copy() for v in model.prior.trainable_variables]
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, x[::-1])).batch(20), epochs=1,
                        verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert np.isfinite(logs["log_det"]) and np.isfinite(logs["loss"]) and np.isfinite(logs["kl"])
    steps = int(model.optimizer.iterations.numpy())
    if precision == "float16":  # dynamic loss scaling: steps whose scaled gradients overflow are
        # skipped (not counted) and the scale halves, from 2**15 down to where float16 holds them
        assert 1 <= steps < 8 and float(model.optimizer.dynamic_scale.numpy()) < 2 ** 15
    else:
        assert steps == 8
    moved = [np.max(np.abs(v.numpy() - b)) for v, b in zip(model.prior.trainable_variables, before)]
    assert max(moved) > 0  # the flow trained in float32 through the low-precision networks
    z0, log_det = model.prior.forward(tf.constant(x[:5]))
    assert log_det.dtype == tf.float32 and np.all(np.isfinite(log_det.numpy()))


@pytest.mark.parametrize("tf_config, message", [
    ("", "needs TF_CONFIG"),
    ("{not json", "does not parse as JSON"),
    ('["a"]', "must be a JSON object"),
    ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', "at least one worker"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}',
     "expected host:port"),
    ('{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "worker", "index": 1}}',
     r"task.index must be an integer in \[0, 1\)"),
    ('{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "chief", "index": 0}}',
     "needs \"task\""),
])
def test_malformed_tf_config_is_a_clear_error(tf_config, message, monkeypatch, capsys, tmp_path):
    with pytest.raises(ConfigError, match=message):
        distribute.parse_tf_config(tf_config)
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert train.main(["--strategy", "multiworker", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err
    assert not (tmp_path / "run").exists()


def test_unknown_strategy_and_bad_devices_are_clear_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--strategy", "ring", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "invalid choice: 'ring'" in capsys.readouterr().err
    for argv, message in ((["--devices", "/gpu:0,,/gpu:1"], "distinct device names"),
                          (["--strategy", "one", "--devices", "/gpu:0,/gpu:1"], "one device"),
                          (["--strategy", "multiworker", "--devices", "/gpu:0"], "local devices")):
        assert train.main([*argv, "--out", str(tmp_path / "run")]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ConfigError, match="strategy must be one of"):
        RunConfig().replace(train={"strategy": "ring"})


@pytest.mark.parametrize("strategy", ["auto", "one", "mirrored"])
def test_a_device_this_machine_lacks_is_one_line_naming_it_and_what_exists(strategy, capsys,
                                                                         tmp_path):
    """CPU only here (conftest hides the GPUs): /gpu:7 is refused before anything is written."""
    devices = "/gpu:7" if strategy != "mirrored" else "/cpu:0,/gpu:7"
    assert train.main(["--strategy", strategy, "--devices", devices, "--steps", "1",
                       "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.endswith("error: devices /gpu:7: it does not exist on this machine; available: "
                        "/cpu:0"), err
    assert not (tmp_path / "run").exists()
    distribute.check_devices(["/cpu:0", "/device:CPU:0", "CPU:0"])   # spellings of one device


def test_global_batch_must_divide_by_the_replicas(make_config, tmp_path):
    class ThreeReplicas:
        num_replicas_in_sync = 3

    assert distribute.check_batch(21, ThreeReplicas()) == 7
    with pytest.raises(ConfigError, match="batch-size 20 is the global batch and must divide by "
                                          "the 3 replicas"):
        distribute.check_batch(20, ThreeReplicas())
