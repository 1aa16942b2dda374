"""Import TensorFlow without the native start-up lines it writes straight to the process's stderr.

TensorFlow's shared libraries log "Could not find cuda drivers…" and CPU-feature notes through absl
before its logging is initialized, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; they would turn a
command-line error into several lines. The CLIs call this before their first TensorFlow import.
Set ``TF_CPP_MIN_LOG_LEVEL=0`` to see those lines again. It also turns oneDNN's CPU kernels on unless
the environment says otherwise. On a machine without a GPU device node it also lets CUDA fail to
initialize inside the silence (TensorFlow would otherwise log "failed call to cuInit" as an error at
the first device query); where a GPU node exists, CUDA's messages stay visible.
"""

from __future__ import annotations

import os
import sys


# Device nodes of NVIDIA's driver (Linux) and of WSL's GPU paravirtualization: where none exists, no GPU
# can be used, and CUDA's failure to initialize is no news.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")


def gpu_device_node() -> bool:
    """Whether this machine has a GPU device node (``GPU_DEVICE_NODES``)."""
    return any(os.path.exists(node) for node in GPU_DEVICE_NODES)


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # oneDNN's CPU kernels made a training step 1.2-1.7x faster on these machines (benchmarks/
    # throughput.py); TensorFlow leaves them off on some CPUs. Set TF_ENABLE_ONEDNN_OPTS=0 to opt out.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401
        if not gpu_device_node():
            # Without a GPU, CUDA's first initialization (at the first device query, after the
            # import) writes "E0000 … failed call to cuInit …", an error line on every command of a
            # CPU-only machine. It happens once per process: let it happen here, unheard.
            tensorflow.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)  # restored before any exception propagates: import errors stay visible
        os.close(saved)
        os.close(devnull)
