"""Training throughput (images/s) of the authors' 28×28 architectures, against the CPU's matmul ceiling.

    python benchmarks/throughput.py                 # oneDNN on: float32 and the two bfloat16 routes
    python benchmarks/throughput.py --onednn both --precisions float32   # oneDNN on and off

Precisions (``--precisions``), all measured in one process, their models interleaved:
    float32            the model as ``--mixed-precision off`` builds it
    bfloat16           ``--mixed-precision bfloat16``: Keras's ``mixed_bfloat16`` policy on the encoder,
                       decoder and discriminator (float32 variables); the decoupled prior, the KL and
                       the losses stay float32 (``model.build_model``)
    bfloat16-grappler  the float32 model, rewritten by TensorFlow's grappler pass
                       ``auto_mixed_precision_onednn_bfloat16`` (oneDNN only): grappler chooses the
                       ops that run in bfloat16. The option is read when a function is first run, so
                       it is set around this model's calls only (checked with ONEDNN_VERBOSE: the
                       float32 models in the same process keep f32 kernels)
``×float32`` is bfloat16 images/s over float32 images/s of the same model: the median over rounds of
the ratio of the two rounds' medians (so load that drifts between rounds hits both sides), with the
rounds' range. Where time goes in each precision: ``benchmarks/bf16_profile.py``.

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
achieved GFLOP/s is compared with a 2048² matmul of the row's precision (float32, or bfloat16 for both
bfloat16 routes) measured in the same process (2·n³ FLOPs; the precisions' matmuls alternating).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import statistics

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
PRECISIONS = {  # name: (the configuration's mixed_precision, grappler's oneDNN bfloat16 rewrite)
    "float32": ("off", False),
    "bfloat16": ("bfloat16", False),
    "bfloat16-grappler": ("off", True),
    "float16": ("float16", False),
}
GRAPPLER = "auto_mixed_precision_onednn_bfloat16"


def matmul_ceilings(dtypes, repeats: int, n: int = 2048) -> dict:
    """GFLOP/s of an n×n matmul (2·n³ FLOPs, float32 accumulation) per dtype, the median of
    ``repeats``, the dtypes alternating repeat by repeat so that load drift hits each alike."""
    import tensorflow as tf

    products = {}
    for dtype in dtypes:
        a, b = (tf.cast(tf.random.uniform((n, n)), dtype) for _ in range(2))
        products[dtype] = tf.function(
            lambda a=a, b=b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
        products[dtype]().numpy()
    times = {dtype: [] for dtype in dtypes}
    for _ in range(repeats):
        for dtype, product in products.items():
            start = time.perf_counter()
            product().numpy()
            times[dtype].append(time.perf_counter() - start)
    return {dtype: 2 * n ** 3 / statistics.median(t) / 1e9 for dtype, t in times.items()}


def set_grappler_rewrite(on: bool) -> None:
    """Grappler's oneDNN bfloat16 rewrite on or off; grappler reads it when a function is instantiated
    (its first call), so set it before each model's first and timed calls."""
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({GRAPPLER: on})


def random_batch(reg: str, batch: int, rng):
    """A fixed batch of random 28×28 images; FactorVAE's step also takes a second batch (encoded for
    the discriminator)."""
    import tensorflow as tf

    x = tf.constant(rng.uniform(size=(batch, 28, 28, 1)).astype("float32"))
    return (x, tf.constant(rng.uniform(size=(batch, 28, 28, 1)).astype("float32"))) \
        if reg == "factor" else x


def build_step(arch: str, prior: str, reg: str, batch: int, mixed_precision: str, jit: bool = False):
    """``tf.function(model.train_step)`` of one of MODELS at ``mixed_precision`` (FactorVAE with the
    authors' 1000×5 discriminator), its optimizers built."""
    import tensorflow as tf

    from tf_dpvae.config import RunConfig
    from tf_dpvae.model import build_model

    config = RunConfig().replace(
        model={"arch": arch, "latent_dim": 2}, prior={"kind": prior},
        objective={"reg": reg, "disc_units": 1000, "disc_layers": 5},  # the authors' one
        train={"batch_size": batch, "jit": jit, "mixed_precision": mixed_precision})
    model = build_model(config, (None, 28, 28, 1))
    model.build_optimizers()
    return tf.function(model.train_step, jit_compile=jit)


def measure(args) -> dict:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)

    rng = np.random.default_rng(0)
    steps, flops = {}, {}
    for name, (arch, prior, reg, batch) in MODELS.items():
        batch = args.batch or batch
        data = random_batch(reg, batch, rng)
        for precision in args.precisions:
            mixed, grappler = PRECISIONS[precision]
            step = build_step(arch, prior, reg, batch, mixed, args.jit)
            graph = step.get_concrete_function(data).graph
            if name not in flops:  # the traced graph's FLOPs: the same in every precision
                options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
                options["output"] = "none"
                flops[name] = tf.compat.v1.profiler.profile(graph, options=options).total_float_ops
            set_grappler_rewrite(grappler)
            for _ in range(args.warmup):
                step(data)["loss"].numpy()
            steps[name, precision] = (step, data, grappler)
    times = {key: [[] for _ in range(args.rounds)] for key in steps}
    for r in range(args.rounds):
        for key, (step, data, grappler) in steps.items():
            set_grappler_rewrite(grappler)
            for _ in range(args.steps):
                start = time.perf_counter()
                step(data)["loss"].numpy()
                times[key][r].append(time.perf_counter() - start)
    set_grappler_rewrite(False)

    matmul_gflops = matmul_ceilings(
        sorted({"bfloat16" if p.startswith("bfloat16") else p for p in args.precisions}),
        args.matmul_repeats)
    rows = {}
    for (name, precision), per_round in times.items():
        everything = [t for r in per_round for t in r]
        row = {"model": name, "precision": precision, "batch": args.batch or MODELS[name][3],
               "step_s": float(np.median(everything)), "flops": int(flops[name]),
               "steps_timed": len(everything)}
        if precision != "float32" and (name, "float32") in times:
            # images/s ratio = float32 step time / this step time, round by round
            ratios = [statistics.median(f) / statistics.median(t)
                      for f, t in zip(times[name, "float32"], per_round)]
            row.update(ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))
        rows[f"{name}|{precision}"] = row
    return {
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "matmul_gflops": matmul_gflops,
        "rows": rows,
        "load": open("/proc/loadavg").read().split()[:3],
    }


def table(results: list[dict], precisions) -> str:
    lines = ["| model | batch | oneDNN | precision | step (ms) | images/s | ×float32 (rounds' range) | "
             "GFLOP/step | GFLOP/s | % of matmul |",
             "|---|---:|:---:|---|---:|---:|---:|---:|---:|---:|"]
    for name in MODELS:
        for r in results:
            for precision in precisions:
                m = r["rows"][f"{name}|{precision}"]
                gflops = m["flops"] / m["step_s"] / 1e9
                ceiling = r["matmul_gflops"]["bfloat16" if precision.startswith("bfloat16")
                                             else precision]
                ratio = (f"{m['ratio']:.2f} ({m['ratio_min']:.2f}–{m['ratio_max']:.2f})"
                         if "ratio" in m else "")
                lines.append(
                    f"| {name} | {m['batch']} | {r['onednn']} | {precision} | "
                    f"{1e3 * m['step_s']:.1f} | {m['batch'] / m['step_s']:,.0f} | {ratio} | "
                    f"{m['flops'] / 1e9:.3f} | {gflops:.1f} | {100 * gflops / ceiling:.0f}% |")
    lines.append("")
    for r in results:
        ceilings = ", ".join(f"{dtype} {g:.0f}" for dtype, g in r["matmul_gflops"].items())
        lines.append(f"oneDNN={r['onednn']}: 2048² matmul GFLOP/s: {ceilings}; "
                     f"load average before/after {r['load_before']} / {r['load']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onednn", choices=["0", "1", "both"], default="1",
                   help="TF_ENABLE_ONEDNN_OPTS (read when TensorFlow loads: one process per setting); "
                        "1 is what the commands use")
    p.add_argument("--steps", type=int, default=20, help="timed steps per model per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--matmul-repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--jit", action="store_true")
    p.add_argument("--batch", type=int, default=0,
                   help="every model's batch size (0: the models' own, 100 and 24)")
    p.add_argument("--precisions", nargs="+", choices=list(PRECISIONS),
                   help="measured in one process, interleaved (see the module docstring); default: "
                        "float32 bfloat16 bfloat16-grappler with --onednn 1, float32 otherwise")
    p.add_argument("--json", action="store_true", help="(internal) measure here, print JSON")
    args = p.parse_args(argv)
    if args.precisions is None:
        args.precisions = (["float32", "bfloat16", "bfloat16-grappler"] if args.onednn == "1"
                           else ["float32"])
    if "bfloat16-grappler" in args.precisions and args.onednn != "1":
        p.error(f"--precisions bfloat16-grappler needs --onednn 1, got --onednn {args.onednn}: "
                f"the {GRAPPLER} rewrite targets oneDNN's kernels")
    if args.batch < 0:
        p.error(f"--batch must be 0 (the models' own) or positive, got {args.batch}")
    for n in ("steps", "rounds", "warmup", "matmul_repeats", "threads"):
        if getattr(args, n) < 1:
            p.error(f"--{n.replace('_', '-')} must be at least 1, got {getattr(args, n)}")
    args.precisions = list(dict.fromkeys(args.precisions))  # once each, in the order given
    if args.json:
        load_before = open("/proc/loadavg").read().split()[:3]
        result = measure(args)
        result["load_before"] = load_before
        print(json.dumps(result))
        return 0
    settings = ["1", "0"] if args.onednn == "both" else [args.onednn]
    passed = [f"--{n.replace('_', '-')}={getattr(args, n)}"
              for n in ("steps", "rounds", "warmup", "matmul_repeats", "threads", "batch")]
    passed += ["--precisions", *args.precisions] + (["--jit"] if args.jit else [])
    results = []
    for setting in settings:  # oneDNN is read when TensorFlow loads: one process per setting
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3",
               "CUDA_VISIBLE_DEVICES": ""}
        out = subprocess.run([sys.executable, __file__, "--json", *passed], env=env, check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{provenance.stamp()} (at the end)\n")
    print(table(results, args.precisions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
