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

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time

from tf_dpvae.config import ConfigError, TrainConfig
from tf_dpvae.json_files import parse_json


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
    tf_config = parse_json(text, "TF_CONFIG")   # a key twice, deep nesting: refused too
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
DEFAULT_PEER_TIMEOUT = 600   # seconds; TrainConfig.peer_timeout's default


class PeersUnreachable(ConfigError):
    """A multi-worker strategy could not reach its TF_CONFIG peers within ``--peer-timeout``."""


# True once a strategy's start-up was abandoned (its thread still blocked inside TensorFlow): the
# process should then end with os._exit (``exit_now``), as interpreter shutdown may wait on it.
abandoned = False


def make_strategy(strategy: str, devices: str = "", peer_timeout: float = DEFAULT_PEER_TIMEOUT):
    """The ``tf.distribute.Strategy`` for the settings (validated first; ConfigError if unusable).

    One instance per setting and process: several strategies over the same devices would share
    collective keys (and a multi-worker strategy can be made only once per process). A multi-worker
    strategy waits at most ``peer_timeout`` seconds for its peers (``PeersUnreachable``).
    """
    TrainConfig(strategy=strategy, devices=devices)  # validates the names and their combination
    key = (strategy, devices)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _make_strategy(strategy, devices, peer_timeout)
    return _STRATEGIES[key]


@contextlib.contextmanager
def default_signals():
    """SIGINT and SIGTERM end the process at once inside the block (their default action). For a
    call that blocks inside TensorFlow holding the GIL, where no Python handler can run: a peer that
    answers TCP but is not a TF worker would otherwise make the process ignore both. Use only where
    nothing has been written yet."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def multi_worker_strategy(tf_config: dict, peer_timeout: float):
    """``MultiWorkerMirroredStrategy`` whose start-up gives up after ``peer_timeout`` seconds.

    First the leader must answer gRPC (``wait_for_leader``, a wait that SIGINT and SIGTERM end). Then
    TensorFlow's coordination service waits for every task to register with the leader (by default
    for an hour); the strategy configures it only if it is not configured yet, so it is configured
    here first, the same way, with ``cluster_register_timeout_in_ms`` from what is left of
    ``peer_timeout``. That wait holds the GIL and TensorFlow catches SIGTERM in C++ meanwhile (its
    preemption notifier); SIGINT keeps its default action (``default_signals``), and the timeout
    bounds the wait.
    """
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    cluster = tf.train.ClusterSpec(tf_config["cluster"])
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    task = tf_config["task"]
    peers = [a for kind, addresses in tf_config["cluster"].items() for i, a in enumerate(addresses)
             if (kind, i) != (task["type"], task["index"])]
    deadline = time.monotonic() + peer_timeout
    wait_for_leader(tf_config, peer_timeout)
    remaining = max(1.0, deadline - time.monotonic())
    if context.context().coordination_service is None:
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
            coordinated_jobs=jobs, cluster_register_timeout_in_ms=int(remaining * 1000))
    try:
        with default_signals(), watchdog(
                remaining + 5, f"the TF_CONFIG peers {', '.join(peers)} did not all join within "
                               f"{peer_timeout:g} s (--peer-timeout); check that every worker runs "
                               f"this command, and the addresses"), native_stderr_held() as held:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        held.replay()   # TensorFlow's own lines of a start-up that worked
        return strategy
    except tf.errors.OpError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        # TensorFlow's coordination agent logs the failure again as it shuts down: this line says it
        _silence_native_stderr()
        raise PeersUnreachable(
            f"the TF_CONFIG peer{'s' if len(peers) != 1 else ''} {', '.join(peers) or '(none)'} "
            f"could not be reached within {peer_timeout:g} s (--peer-timeout): {first}; check that "
            f"every worker of TF_CONFIG runs this command, and the addresses") from None


WATCHDOG = """
import os, select, signal, sys
fd, pid, timeout, line = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if not select.select([fd], [], [], timeout)[0]:   # the pipe closes when the wait ends in time
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


@contextlib.contextmanager
def watchdog(timeout: float, line: str):
    """A helper process that, if the block has not ended within ``timeout`` seconds, writes
    ``PROG: error: line`` on stderr and kills this process (SIGKILL: it may be blocked inside
    TensorFlow holding the GIL and catching SIGTERM, where nothing else can end it). For the
    coordination leader's wait for its peers, which TensorFlow does not bound by
    ``cluster_register_timeout``. Nothing has been written when it fires."""
    import subprocess

    read, write = os.pipe()
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tf_dpvae"
    prog = "python -m tf_dpvae.train" if prog in ("__main__.py", "train.py", "-m") else prog
    guard = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(read), str(os.getpid()),
                              str(timeout), f"{prog}: error: {line}"], pass_fds=(read,))
    os.close(read)
    try:
        yield
    finally:
        os.close(write)   # the watchdog sees end-of-file and leaves
        guard.wait()


def leader_address(tf_config: dict) -> str:
    """The address of the coordination leader (chief 0, else worker 0), as TensorFlow picks it."""
    cluster = tf_config["cluster"]
    return (cluster.get("chief") or cluster["worker"])[0]


def wait_for_leader(tf_config: dict, timeout: float) -> None:
    """Wait at most ``timeout`` seconds until the coordination leader speaks gRPC (HTTP/2), unless
    this task is the leader; ``PeersUnreachable`` otherwise.

    The wait is in Python (signal handlers run: SIGINT and SIGTERM end it), unlike TensorFlow's own
    registration, which blocks holding the GIL and catches SIGTERM itself (its preemption notifier):
    a leader address that accepts TCP but is not a TF worker is found here. A leader not started yet
    refuses connections, and the channel retries every ≤ 2 s until it is up."""
    import grpc

    task = tf_config["task"]
    address = leader_address(tf_config)
    if tf_config["cluster"][task["type"]][task["index"]] == address:
        return
    channel = grpc.insecure_channel(address, options=[("grpc.initial_reconnect_backoff_ms", 500),
                                                      ("grpc.max_reconnect_backoff_ms", 2000)])
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise PeersUnreachable(
            f"the TF_CONFIG coordination leader {address} did not answer as a TensorFlow worker "
            f"within {timeout:g} s (--peer-timeout); check that every worker of TF_CONFIG runs this "
            f"command, and the addresses") from None
    finally:
        channel.close()


class _Held:
    """What ``native_stderr_held`` captured; ``replay()`` writes it to stderr."""

    def __init__(self, file):
        self.file = file

    def replay(self) -> None:
        self.file.seek(0)
        text = self.file.read()
        if text:
            sys.stderr.write(text.decode(errors="replace"))
        self.file.close()


@contextlib.contextmanager
def native_stderr_held():
    """File descriptor 2 captured in a temporary file for the block (TensorFlow's C++ logs bypass
    ``sys.stderr``): a start-up that fails is then one line, not TensorFlow's dozen. Yields a
    ``_Held`` to replay what a start-up that worked logged."""
    sys.stderr.flush()
    saved = os.dup(2)
    held = _Held(tempfile.TemporaryFile())
    os.dup2(held.file.fileno(), 2)
    try:
        yield held
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _silence_native_stderr() -> None:
    """From now on file descriptor 2 (TensorFlow's C++ logs) goes to /dev/null, while Python's
    ``sys.stderr`` keeps writing where stderr went: for a process about to end with one line."""
    sys.stderr.flush()
    python_stderr = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding,
                              errors=sys.stderr.errors)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = python_stderr


def check_own_port(tf_config: dict) -> None:
    """ConfigError if this worker's own TF_CONFIG address cannot be bound (a port in use): TensorFlow
    would otherwise fail deep in its server start-up."""
    import errno
    import socket

    task = tf_config["task"]
    host, _, port = tf_config["cluster"][task["type"]][task["index"]].rpartition(":")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ConfigError(f"TF_CONFIG task address {host}:{port}: the host does not resolve "
                          f"({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as a server binds (gRPC sets it too): a port held only by closed connections is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ConfigError(f"TF_CONFIG task address {host}:{port} cannot be used by this "
                                  f"worker: {err.strerror}; another process holds the port, choose "
                                  f"a free one") from None
            if err.errno != errno.EADDRNOTAVAIL:   # another machine's address: its own to check
                raise


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


def _make_strategy(strategy: str, devices: str, peer_timeout: float):
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
    tf_config = parse_tf_config(os.environ.get("TF_CONFIG"))
    check_own_port(tf_config)
    return multi_worker_strategy(tf_config, peer_timeout)


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
