"""Where training runs: the ``tf.distribute`` strategy, mixed precision, and their checks.

Strategies (``--strategy``):
    one          the default strategy: the single-device path, exactly as without this module
    mirrored     ``MirroredStrategy`` over all local GPUs, or over ``--devices`` (e.g. two logical CPUs
                 made with ``split_cpu``); synchronous, gradients summed across replicas
    multiworker  ``MultiWorkerMirroredStrategy`` across processes/machines described by ``TF_CONFIG``
                 (``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}``);
                 every worker runs the same command, each with its own ``--out``
    auto         mirrored when there are several GPUs (or ``--devices`` lists several), else one

Batches: ``--batch-size`` is the *global* batch; each of R replicas sees batch/R examples, so the batch
must divide evenly. The model scales each replica's loss by 1/R so the summed gradients equal the
gradient of the global-batch mean (see ``model.DPVAE.train_step``).

Nothing here is imported by the single-device path unless a strategy other than ``one`` is asked for;
validation (``config.TrainConfig``, ``parse_tf_config``) runs before TensorFlow is loaded.
"""

from __future__ import annotations

import json
import os

from tf_dpvae.config import ConfigError, TrainConfig


def parse_devices(devices: str) -> list[str]:
    """``"/cpu:0,/cpu:1"`` → the device names; ``""`` → []. Raises ConfigError on an empty entry."""
    if not devices:
        return []
    names = [d.strip() for d in devices.split(",")]
    if any(not n for n in names):
        raise ConfigError(f"devices must be a comma-separated list of device names such as "
                          f"/gpu:0,/gpu:1; got {devices!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"devices lists a device twice: {devices!r}")
    return names


def parse_tf_config(text: str | None) -> dict:
    """Validate a ``TF_CONFIG`` for multi-worker training; returns it parsed. Raises ConfigError."""
    if not text:
        raise ConfigError("--strategy multiworker needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": "
                          "{\"worker\": [\"127.0.0.1:12345\", \"127.0.0.1:12346\"]}, \"task\": "
                          "{\"type\": \"worker\", \"index\": 0}}'")
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"TF_CONFIG does not parse as JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(tf_config, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object, got {type(tf_config).__name__}")
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not isinstance(cluster.get("worker"), list) \
            or not cluster["worker"]:
        raise ConfigError("TF_CONFIG needs \"cluster\": {\"worker\": [\"host:port\", ...]} with at "
                          "least one worker")
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list):
            raise ConfigError(f"TF_CONFIG cluster.{kind} must be a list of host:port addresses")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not isinstance(address, str) or not host or not port.isdigit() \
                    or not 0 < int(port) < 65536:
                raise ConfigError(f"TF_CONFIG cluster.{kind} has {address!r}; expected host:port")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ConfigError(f"TF_CONFIG needs \"task\": {{\"type\": one of {sorted(cluster)}, "
                          f"\"index\": i}}; got {task!r}")
    index = task.get("index")
    if not isinstance(index, int) or isinstance(index, bool) \
            or not 0 <= index < len(cluster[task["type"]]):
        raise ConfigError(f"TF_CONFIG task.index must be an integer in "
                          f"[0, {len(cluster[task['type']])}), got {index!r}")
    return tf_config


def split_cpu(count: int) -> None:
    """Split the physical CPU into ``count`` logical devices (/cpu:0 ... /cpu:count-1).

    Must run before TensorFlow initializes its devices (before any op runs), once per process.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


_STRATEGIES: dict = {}


def make_strategy(strategy: str, devices: str = ""):
    """The ``tf.distribute.Strategy`` for the settings (validated first; ConfigError if unusable).

    One instance per setting and process: several strategies over the same devices would share
    collective keys (and a multi-worker strategy can be made only once per process).
    """
    TrainConfig(strategy=strategy, devices=devices)  # validates the names and their combination
    key = (strategy, devices)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _make_strategy(strategy, devices)
    return _STRATEGIES[key]


def _short_name(name: str) -> str | None:
    """A device name in the short form ``/cpu:0`` (``/device:GPU:1``, ``GPU:1``, a full
    ``/job:…/device:GPU:1`` all give ``/gpu:1``; no index means 0), or None if it does not parse."""
    import tensorflow as tf

    try:
        spec = tf.DeviceSpec.from_string(name)
    except (ValueError, TypeError):
        return None
    if not spec.device_type:
        return None
    return f"/{spec.device_type.lower()}:{spec.device_index or 0}"


def check_devices(names: list[str]) -> None:
    """Raise ConfigError naming every device of ``names`` that this machine does not have, and the
    devices it has (TensorFlow would otherwise accept ``/gpu:7`` and fail later, or quietly place the
    work elsewhere)."""
    if not names:   # nothing to check; and listing devices would start TensorFlow's runtime, after
        return      # which a MultiWorkerMirroredStrategy can no longer be made
    import tensorflow as tf

    available = [_short_name(d.name) for d in tf.config.list_logical_devices()]
    missing = [n for n in names if _short_name(n) not in available]
    if missing:
        raise ConfigError(f"devices {', '.join(missing)}: {'it does' if len(missing) == 1 else 'they do'}"
                          f" not exist on this machine; available: {', '.join(available)}")


def _make_strategy(strategy: str, devices: str):
    import tensorflow as tf

    names = parse_devices(devices)
    check_devices(names)
    if strategy == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        strategy = "mirrored" if len(names) > 1 or (not names and len(gpus) > 1) else "one"
    if strategy == "one":
        return tf.distribute.OneDeviceStrategy(names[0]) if names else tf.distribute.get_strategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy(names or None)
    parse_tf_config(os.environ.get("TF_CONFIG"))
    return tf.distribute.MultiWorkerMirroredStrategy()


def check_batch(global_batch: int, strategy) -> int:
    """The per-replica batch; ConfigError if the global batch does not divide by the replicas."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ConfigError(f"batch-size {global_batch} is the global batch and must divide by the "
                          f"{replicas} replicas of the strategy; use a multiple of {replicas}")
    return global_batch // replicas


def policy_name(mixed_precision: str) -> str:
    return {"off": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[
        mixed_precision]
