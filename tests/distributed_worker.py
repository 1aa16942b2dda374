"""Run by tests/test_distribute.py in a subprocess (TensorFlow's devices must be set up before it
starts, and a multi-worker cluster needs one process per worker). Prints one JSON line.

    python tests/distributed_worker.py mirrored OUT        for each objective: single device, then
                                                           mirrored over two logical CPUs; per-epoch
                                                           logs and weights
    python tests/distributed_worker.py multiworker OUT     one worker of TF_CONFIG's cluster
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import one_pixel_png, tiny_config  # noqa: E402
from tf_dpvae import distribute  # noqa: E402

QUIET = {"verbose": 0, "log": lambda *_: None}
# every objective whose mirrored run must match one device: the per-example ones (none), the
# all-gathered permutation (factor) and the all-gathered batch statistics (tc, info)
OBJECTIVES = ("none", "factor", "tc", "info")
# and gradient clipping, which must bound the global gradient, not each replica's share: at a bound
# this small every step is clipped
CLIPPED = {"none-clipped": ("none", {"clip_norm": 0.05})}


def epoch_losses(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    import tensorflow as tf
    acc = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    acc.Reload()
    # logs/train's "loss": the mean over the steps since the previous point, at every epoch's end
    # here (runs of fewer steps than log_every)
    return [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("loss")]


def weights(checkpoint):
    import tensorflow as tf
    return {n: tf.train.load_variable(checkpoint, n).tolist()
            for n, _ in tf.train.list_variables(checkpoint)
            if n.startswith("weights/") and "evaluation_seed" not in n}


def without_figures():
    """The 2-D figures as conftest's 1-pixel PNG: these runs are about the strategy, not pictures."""
    from tf_dpvae import summary_images, training
    summary_images.moons_figure_png = training.moons_figure_png = one_pixel_png


def main():
    mode, out = sys.argv[1], sys.argv[2]
    from tf_dpvae import training
    without_figures()
    if mode == "mirrored":
        distribute.split_cpu(2)
        result = {}
        cases = {reg: (reg, {}) for reg in OBJECTIVES} | CLIPPED
        for case, (reg, extra) in cases.items():
            # 80 examples, global batch 20: 4 steps per epoch, two epochs (tiny_config's affine
            # coupling: what is tested is the strategy, not the flow)
            config = tiny_config(reg, "dp", data={"num_examples": 80},
                                 train={"steps": 0, "epochs": 2, **extra})
            for name, train in (("one", {"strategy": "one"}),
                                ("mirrored", {"strategy": "mirrored", "devices": "/cpu:0,/cpu:1"})):
                run = training.fit(config.replace(train=train), os.path.join(out, case, name), **QUIET)
                result[f"{case}/{name}"] = {
                    "step": run.step, "logs": run.final_logs,
                    "epoch_loss": epoch_losses(os.path.join(out, case, name, "logs", "train")),
                    "replicas": run.model.distribute_strategy.num_replicas_in_sync,
                    "weights": weights(run.checkpoint)}
        # resume across strategies: the first 4 steps mirrored, the last 4 on one device
        config = tiny_config("none", "dp", data={"num_examples": 80},
                             train={"epochs": 2})
        mirrored = {"strategy": "mirrored", "devices": "/cpu:0,/cpu:1"}
        out_dir = os.path.join(out, "resumed")
        training.fit(config.replace(train={**mirrored, "steps": 4}), out_dir, **QUIET)
        run = training.fit(config.replace(train={"steps": 0, "strategy": "one"}), out_dir, **QUIET)
        result["none/resumed"] = {"step": run.step, "resumed_from": run.resumed_from,
                                  "weights": weights(run.checkpoint)}
    elif mode == "multiworker":
        config = tiny_config("factor", "dp", data={"num_examples": 80},
                             train={"steps": 3, "strategy": "multiworker"})
        import time
        start = time.time()
        run = training.fit(config, out, **QUIET)
        result = {"seconds": time.time() - start, "step": run.step, "logs": run.final_logs,
                  "replicas": run.model.distribute_strategy.num_replicas_in_sync,
                  "weights": weights(run.checkpoint)}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
