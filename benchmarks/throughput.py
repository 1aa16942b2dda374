"""Training throughput (images/s) of the authors' 28×28 architectures, against the CPU's matmul ceiling.

    python benchmarks/throughput.py                 # oneDNN on and off (one process each), a table
    python benchmarks/throughput.py --onednn 1      # one setting only

What is timed: the compiled training step (``tf.function(model.train_step)``: forward, backward, Adam
update, and FactorVAE's discriminator step) on a fixed in-memory batch of random 28×28 images, so input
pipelines are excluded. Each step is timed on its own (``.numpy()`` of the loss synchronizes); the
models are interleaved (round-robin, ``--rounds`` rounds of ``--steps`` steps each) after warm-up, and
the median is reported. Models, as ``shared/reference-code.md``:
    VAE / dpVAE          §2a beta_mnist, batch 100, latent 2; dp = 6 coupling blocks of 2×64
    FactorVAE / Factor-dpVAE   §2b factor_mnist + the 1000×5 discriminator, batch 24 (+ a second batch
                         encoded for the discriminator)
FLOPs per step are counted from the step's graph with ``tf.compat.v1.profiler`` (float_operation: ops
with registered FLOP statistics, i.e. MatMul, Conv2D and its two backprops, elementwise ops), and the
achieved GFLOP/s is compared with a 2048² float32 matmul measured in the same process (2·n³ FLOPs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import provenance  # first: this checkout on sys.path, quiet TF, the commit

ROOT = provenance.ROOT
# No column compares with the authors' PyTorch code: a ratio is only meaningful when both sides are
# measured in the same run (shared/reference-code.md), and their code is not part of this repository.
MODELS = {  # name: (arch, prior, reg, batch)
    "VAE": ("beta_mnist", "normal", "none", 100),
    "dpVAE": ("beta_mnist", "dp", "none", 100),
    "FactorVAE": ("factor_mnist", "normal", "factor", 24),
    "Factor-dpVAE": ("factor_mnist", "dp", "factor", 24),
}


def measure(args) -> dict:
    import numpy as np
    import tensorflow as tf

    from tf_dpvae.config import RunConfig
    from tf_dpvae.model import build_model

    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    rng = np.random.default_rng(0)
    steps, flops = {}, {}
    for name, (arch, prior, reg, batch) in MODELS.items():
        config = RunConfig().replace(
            model={"arch": arch, "latent_dim": 2}, prior={"kind": prior},
            objective={"reg": reg, "disc_units": 1000, "disc_layers": 5},  # the authors' discriminator
            train={"batch_size": batch, "jit": args.jit, "mixed_precision": args.mixed_precision})
        model = build_model(config, (None, 28, 28, 1))
        model.build_optimizers()
        x = tf.constant(rng.uniform(size=(batch, 28, 28, 1)).astype("float32"))
        data = (x, tf.constant(rng.uniform(size=(batch, 28, 28, 1)).astype("float32"))) \
            if reg == "factor" else x
        step = tf.function(model.train_step, jit_compile=args.jit)
        graph = step.get_concrete_function(data).graph
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        flops[name] = tf.compat.v1.profiler.profile(graph, options=options).total_float_ops
        for _ in range(args.warmup):
            step(data)["loss"].numpy()
        steps[name] = (step, data)
    times = {name: [] for name in MODELS}
    for _ in range(args.rounds):
        for name, (step, data) in steps.items():
            for _ in range(args.steps):
                start = time.perf_counter()
                step(data)["loss"].numpy()
                times[name].append(time.perf_counter() - start)

    n = 2048
    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()
    matmul_times = []
    for _ in range(args.matmul_repeats):
        start = time.perf_counter()
        matmul().numpy()
        matmul_times.append(time.perf_counter() - start)
    return {
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "matmul_gflops": 2 * n ** 3 / float(np.median(matmul_times)) / 1e9,
        "models": {name: {"batch": MODELS[name][3], "step_s": float(np.median(times[name])),
                          "flops": int(flops[name]), "steps_timed": len(times[name])}
                   for name in MODELS},
        "load": open("/proc/loadavg").read().split()[:3],
    }


def table(results: list[dict]) -> str:
    lines = ["| model | batch | oneDNN | step (ms) | images/s | GFLOP/step | GFLOP/s | % of matmul |",
             "|---|---:|:---:|---:|---:|---:|---:|---:|"]
    for name in MODELS:
        for r in results:
            m = r["models"][name]
            gflops = m["flops"] / m["step_s"] / 1e9
            lines.append(
                f"| {name} | {m['batch']} | {r['onednn']} | {1e3 * m['step_s']:.1f} | "
                f"{m['batch'] / m['step_s']:,.0f} | "
                f"{m['flops'] / 1e9:.3f} | {gflops:.1f} | {100 * gflops / r['matmul_gflops']:.0f}% |")
    lines.append("")
    for r in results:
        lines.append(f"oneDNN={r['onednn']}: float32 2048² matmul {r['matmul_gflops']:.0f} GFLOP/s; "
                     f"load average before/after {r['load_before']} / {r['load']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onednn", choices=["0", "1", "both"], default="both")
    p.add_argument("--steps", type=int, default=20, help="timed steps per model per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--matmul-repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--jit", action="store_true")
    p.add_argument("--mixed-precision", default="off", choices=["off", "bfloat16", "float16"])
    p.add_argument("--json", action="store_true", help="(internal) measure here, print JSON")
    args = p.parse_args(argv)
    if args.json:
        load_before = open("/proc/loadavg").read().split()[:3]
        result = measure(args)
        result["load_before"] = load_before
        print(json.dumps(result))
        return 0
    settings = ["1", "0"] if args.onednn == "both" else [args.onednn]
    passed = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("--onednn")
              and a not in ("0", "1", "both")]
    results = []
    for setting in settings:  # oneDNN is read when TensorFlow loads: one process per setting
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3",
               "CUDA_VISIBLE_DEVICES": ""}
        out = subprocess.run([sys.executable, __file__, "--json", *passed], env=env, check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{provenance.stamp()} (at the end)\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
