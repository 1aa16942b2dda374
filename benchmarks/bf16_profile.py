"""Where a training step's time goes in float32 and in bfloat16, on this CPU: which kernels run, how
much goes to casts, what stays float32. The evidence behind ``benchmarks/throughput.py``'s bf16 rows.

    python benchmarks/bf16_profile.py                       # the four 28×28 models, three routes
    python benchmarks/bf16_profile.py --models VAE --steps 3 --markdown results/throughput/bf16_profile.md

Routes (float32, keras and grappler in one child process, taking turns round by round so that the
shared machine's load drift hits each alike; fpmath in a process of its own, since oneDNN reads its
variable once, so its times compare less well: its evidence is which kernels run):
    float32   the model as ``--mixed-precision off`` builds it
    keras     ``--mixed-precision bfloat16``: Keras's ``mixed_bfloat16`` policy on the encoder, decoder
              and discriminator (float32 variables, cast to bfloat16 at each layer call); the decoupled
              prior, the KL and every loss stay float32 (``model.build_model``)
    grappler  the float32 model with TensorFlow's graph rewrite ``auto_mixed_precision_onednn_bfloat16``
              (``tf.config.optimizer.set_experimental_options``): grappler, not Keras, chooses the ops
              that run in bfloat16 and inserts the casts
    fpmath    the float32 model with ``ONEDNN_DEFAULT_FPMATH_MODE=BF16``: oneDNN may compute float32
              primitives with bfloat16 arithmetic inside (no casts in the graph), where it has such a
              kernel for the ISA

For each model and route, after ``--warmup`` steps, in each of ``--rounds`` rounds: ``--timed`` steps
(each synced; the wall column is their median), then ``--steps`` steps traced two ways at once:
  * ``tf.profiler.experimental`` (the trace viewer's data, XSpace protobuf): every executed op's time
    per step (its median over every traced step), summed over the executor's threads, grouped by what
    the op does (its type, with oneDNN's ``_MklNative``/``_MklFused`` prefixes removed; Adam's update
    by its ``adam`` name scope). An op whose type starts with ``_Mkl`` ran a oneDNN kernel; every
    other op ran TensorFlow's own (Eigen) kernel. Under ``keras`` each op's dtype is read from the
    traced graph (before grappler: fused ops keep the name of their last node, nodes grappler made
    are "unmapped").
  * ``ONEDNN_VERBOSE=1``: every oneDNN primitive executed, with its implementation (e.g.
    ``brg_conv_fwd:avx512_core_bf16`` is a bfloat16 kernel using AVX512-BF16's dot-product
    instructions; ``ref``/``gemm`` would be a slow fallback), its source data type and its time
    (per shape, the median call).
Both instruments slow the step: the profile attributes time, ``throughput.py`` measures speed.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import provenance  # first: this checkout on sys.path, quiet TF, the commit

from throughput import MODELS  # noqa: E402  (benchmarks/ is on sys.path: this script's folder)

ROUTES = ("float32", "keras", "grappler", "fpmath")
MARK = "@@bf16_profile"
# VDPBF16PS does 32 bfloat16 multiply-adds (into float32) per 512-bit instruction, VFMADD231PS 16 float32
# ones: the most a compute-bound kernel can gain from bfloat16 on AVX512-BF16 without AMX
BF16_PEAK = 2.0
# (category, predicate on (op type without oneDNN prefixes, op name)); the first match wins
CATEGORIES = (
    ("Cast", lambda t, n: t in ("Cast", "CastBf16ToFp32", "CastFp32ToBf16")),
    ("Adam update (float32)", lambda t, n: n.split("/")[0].startswith("adam")),
    ("Conv2D (forward)", lambda t, n: t in ("Conv2D", "FusedConv2D", "Conv2DWithBias")),
    ("Conv2DBackpropInput (conv-transpose fwd, conv bwd)", lambda t, n: t == "Conv2DBackpropInput"),
    ("Conv2DBackpropFilter", lambda t, n: t.startswith("Conv2DBackpropFilter")),
    ("BiasAddGrad", lambda t, n: t == "BiasAddGrad"),
    ("MatMul (dense)", lambda t, n: t in ("MatMul", "FusedMatMul", "BatchMatMulV2", "BatchMatMul")),
    ("other (elementwise, reductions, RNG, variables)", lambda t, n: True),
)


def _strip(op_type: str) -> str:
    for prefix in ("_MklNative", "_MklFused", "_Mkl", "_Fused"):
        if op_type.startswith(prefix):
            return op_type[len(prefix):] if prefix != "_MklFused" else "Fused" + op_type[len(prefix):]
    return op_type


def category(op_type: str, name: str) -> str:
    t = _strip(op_type)
    return next(c for c, test in CATEGORIES if test(t, name))


def op_events(logdir: str):
    """(name, type, microseconds) of every TensorFlow op event in the trace under ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    pattern = re.compile(r"^([^\s:]+):([A-Za-z0-9_]+)$")  # "scope/name:OpType"
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                match = pattern.match(plane.event_metadata[event.metadata_id].name)
                if match:
                    yield match.group(1), match.group(2), event.duration_ps / 1e6


def graph_dtypes(graph) -> dict:
    """op name → the dtype it computes in (first float output, else first float input)."""
    dtypes = {}
    for op in graph.get_operations():
        tensors = list(op.outputs) + list(op.inputs)
        floating = [t.dtype.name for t in tensors if t.dtype.is_floating]
        dtypes[op.name] = floating[0] if floating else "-"
    return dtypes


def parse_onednn(lines, steps: int) -> list[dict]:
    """Aggregate ``onednn_verbose`` exec lines: per (primitive, propagation, dtype, implementation)
    the calls and milliseconds per step."""
    groups = collections.defaultdict(list)
    for line in lines:
        f = line.strip().split(",")
        if "exec" not in f or "onednn_verbose" not in f[0]:
            continue
        i = f.index("exec")
        kind, impl, prop, mds, attr = f[i + 2], f[i + 3], f[i + 4], f[i + 5], f[i + 6]
        # "src:bf16::blocked:…" (primitives) or "src_f32::blocked:…" (gemm_api)
        types = [re.split("[:_]", m, maxsplit=2)[1] for m in mds.split()
                 if re.match(r"(src|dst)[:_]", m)]
        dtype = "→".join(types) if kind == "reorder" else (types[0] if types else "?")
        if "fpmath:bf16" in attr:  # bfloat16 arithmetic allowed inside a float32 primitive
            dtype += " (fpmath bf16)"
        key = (kind + ("" if prop in ("undef", "") else f" {prop}"), dtype, impl)
        groups[key, f[-2]].append(float(f[-1]))  # f[-2]: the shape, e.g. mb100_ic32oc32_…
    totals = collections.defaultdict(lambda: [0.0, 0.0])
    for (key, _), times in groups.items():  # per shape: the median call (robust to preemption)
        totals[key][0] += len(times) / steps
        totals[key][1] += statistics.median(times) * len(times) / steps
    return [{"primitive": k[0], "dtype": k[1], "impl": k[2] or "(gemm API)", "calls": n, "ms": ms}
            for k, (n, ms) in sorted(totals.items(), key=lambda kv: -kv[1][1])]


def child(args) -> None:
    """Measure every model under each of ``args.child``'s routes, interleaved: models and routes take
    turns, round by round (``--rounds``), so that the shared machine's load drift hits every route
    alike. The verbose oneDNN lines go to this process's stdout (a file), bracketed by markers; the
    results go to ``args.out`` as JSON."""
    import numpy as np
    import tensorflow as tf

    from throughput import build_step, matmul_ceilings, random_batch, set_grappler_rewrite

    libc = ctypes.CDLL(None)

    def mark(text):  # oneDNN prints with C stdio: flush it before our marker, in order
        libc.fflush(None)
        sys.stdout.flush()
        os.write(1, f"{MARK} {text}\n".encode())

    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    rng = np.random.default_rng(0)
    setups = {}
    for name in args.models:
        arch, prior, reg, batch = MODELS[name]
        batch = args.batch or batch
        data = random_batch(reg, batch, rng)
        for route in args.child:
            step = build_step(arch, prior, reg, batch, "bfloat16" if route == "keras" else "off")
            dtypes = graph_dtypes(step.get_concrete_function(data).graph)
            set_grappler_rewrite(route == "grappler")
            for _ in range(args.warmup):
                step(data)["loss"].numpy()
            setups[name, route] = (step, data, dtypes)
    times = collections.defaultdict(list)
    per_op = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in range(args.rounds):
        for (name, route), (step, data, _) in setups.items():
            set_grappler_rewrite(route == "grappler")
            for _ in range(args.timed):
                start = time.perf_counter()
                step(data)["loss"].numpy()
                times[name, route].append(time.perf_counter() - start)
            logdir = tempfile.mkdtemp(prefix="bf16_profile_")
            mark(f"begin {name} {route} {r}")
            tf.profiler.experimental.start(logdir)
            for _ in range(args.steps):
                step(data)["loss"].numpy()
            tf.profiler.experimental.stop()
            mark(f"end {name} {route} {r}")
            for op_name, op_type, us in op_events(logdir):
                per_op[name, route][op_name, op_type].append(us / 1e3)
            shutil.rmtree(logdir, ignore_errors=True)
    set_grappler_rewrite(False)
    traced = args.steps * args.rounds
    results = {route: {} for route in args.child}
    for (name, route), (_, _, dtypes) in setups.items():
        by_category = collections.defaultdict(float)
        by_kernel = collections.defaultdict(float)  # oneDNN or Eigen
        by_dtype = collections.defaultdict(float)
        casts = collections.defaultdict(float)
        for (op_name, op_type), durations in per_op[name, route].items():
            # the median over the traced steps (times the op's runs per step): robust to a step in
            # which the shared machine took the core away
            ms = statistics.median(durations) * len(durations) / traced
            by_category[category(op_type, op_name)] += ms
            by_kernel["oneDNN (_Mkl*)" if op_type.startswith("_Mkl") else "Eigen/TF"] += ms
            by_dtype[dtypes.get(op_name, "unmapped")] += ms
            if _strip(op_type) == "Cast":
                casts[op_name.split("/")[0]] += ms
        results[route][name] = {
            "step_ms": 1e3 * statistics.median(times[name, route]), "categories": by_category,
            "kernels": by_kernel, "dtypes": by_dtype, "casts_by_scope": casts}
    ceilings = matmul_ceilings(["float32", "bfloat16"], repeats=5)
    for route in args.child:
        results[route]["matmul_gflops"] = ceilings
    with open(args.out, "w") as f:
        json.dump(results, f)


def run_child(routes, args, env_extra=None) -> dict:
    """``routes`` measured in one child process (see ``child``), with its oneDNN log parsed."""
    with tempfile.TemporaryDirectory() as tmp:
        out, log = os.path.join(tmp, "result.json"), os.path.join(tmp, "onednn.log")
        env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
               "CUDA_VISIBLE_DEVICES": "",
               "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"),
               **(env_extra or {})}
        with open(log, "w") as stdout:
            subprocess.run([sys.executable, __file__, "--child", *routes, "--out", out,
                            "--models", *args.models, "--steps", str(args.steps),
                            "--rounds", str(args.rounds), "--warmup", str(args.warmup),
                            "--timed", str(args.timed), "--threads", str(args.threads),
                            "--batch", str(args.batch)],
                           env=env, check=True, stdout=stdout, stderr=subprocess.DEVNULL)
        with open(out) as f:
            results = json.load(f)
        with open(log) as f:
            lines = f.read().splitlines()
    isa = next((ln.split(",", 4)[-1] for ln in lines if ",info,cpu,isa:" in ln), "?")
    for route in routes:
        for name in args.models:  # the oneDNN log between this model's markers: its traced steps
            traced = []
            for r in range(args.rounds):
                begin = lines.index(f"{MARK} begin {name} {route} {r}")
                traced += lines[begin + 1:lines.index(f"{MARK} end {name} {route} {r}")]
            results[route][name]["onednn"] = parse_onednn(traced, args.steps * args.rounds)
        results[route]["isa"] = isa
    return results


def report(results: dict, args) -> str:
    routes = [r for r in ROUTES if r in results]
    out = [f"{provenance.stamp()} (at the end)", "",
           f"oneDNN's ISA line: `{results[routes[0]]['isa']}`; CPU flags: {cpu_flags()}; "
           f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1 (default)')}, "
           f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset (all)')}, "
           f"{args.threads} threads, {args.steps} traced steps in each of {args.rounds} rounds; the wall "
           f"step times are taken between the traces, with the oneDNN log on (it slows them: "
           f"throughput.py measures speed); "
           f"1-minute load average at the start {args.load_before:.1f}", ""]
    for name in args.models:
        others = [r for r in routes if r != "float32"] if "float32" in routes else []
        out += [f"### {name} (batch {args.batch or MODELS[name][3]})", "",
                "| ms per step (op time summed over threads) | " + " | ".join(routes) + " | " +
                "".join(f"{r} / float32 | " for r in others),
                "|---|" + "---:|" * (len(routes) + len(others))]
        rows = [(f"**step, wall (median of {args.timed * args.rounds})**",
                 {r: results[r][name]["step_ms"] for r in routes})]
        for c, _ in CATEGORIES:
            rows.append((c, {r: results[r][name]["categories"].get(c, 0.0) for r in routes}))
        rows.append(("**all ops**", {r: sum(results[r][name]["categories"].values())
                                     for r in routes}))
        for k in ("oneDNN (_Mkl*)", "Eigen/TF"):
            rows.append((f"… of which {k} kernels",
                         {r: results[r][name]["kernels"].get(k, 0.0) for r in routes}))
        for label, values in rows:
            ratios = [values[r] / values["float32"] if values["float32"] > 0 else float("nan")
                      for r in others]
            out.append(f"| {label} | " + " | ".join(f"{values[r]:.2f}" for r in routes) + " | " +
                       "".join(f"{q:.2f} | " for q in ratios))
        if "float32" in routes:
            f32 = results["float32"]
            measured = f32["matmul_gflops"]["bfloat16"] / f32["matmul_gflops"]["float32"]
            onednn, eigen = (f32[name]["kernels"].get(k, 0.0) for k in ("oneDNN (_Mkl*)", "Eigen/TF"))
            bound = (onednn + eigen) / (onednn / BF16_PEAK + eigen)
            out += ["", f"Bound (Amdahl): if every oneDNN kernel of the float32 step ran {BF16_PEAK:.0f}× "
                    f"faster (AVX512-BF16's peak over float32 FMA) and nothing else changed (no casts), "
                    f"its op time would fall from {onednn + eigen:.1f} to "
                    f"{onednn / BF16_PEAK + eigen:.1f} ms: at most {bound:.2f}× float32. (The 2048² "
                    f"matmul measured here: bfloat16 {f32['matmul_gflops']['bfloat16']:.0f}, float32 "
                    f"{f32['matmul_gflops']['float32']:.0f} GFLOP/s, {measured:.2f}×.)"]
        if "keras" in routes:
            d = results["keras"][name]["dtypes"]
            c = results["keras"][name]["casts_by_scope"]
            out += ["", "keras route: op time by the dtype the op computes in (ms/step): " +
                    ", ".join(f"{k} {v:.2f}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) +
                    "; Cast time by top-level scope (≥ 0.05 ms/step): " +
                    (", ".join(f"{k} {v:.2f}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])
                               if v >= 0.05) or "none") + "."]
        out += ["", "oneDNN primitives per step (ONEDNN_VERBOSE exec lines):", "",
                "| route | primitive | dtype | implementation | calls/step | ms/step |",
                "|---|---|---|---|---:|---:|"]
        for r in routes:
            prims = results[r][name]["onednn"]
            total = sum(p["ms"] for p in prims)
            for p in prims:
                if p["ms"] >= args.min_ms:
                    out.append(f"| {r} | {p['primitive']} | {p['dtype']} | `{p['impl']}` | "
                               f"{p['calls']:.0f} | {p['ms']:.2f} |")
            out.append(f"| {r} | **all oneDNN primitives** | | | "
                       f"{sum(p['calls'] for p in prims):.0f} | {total:.2f} |")
        out.append("")
    return "\n".join(out)


def cpu_flags() -> str:
    try:
        flags = next(ln for ln in open("/proc/cpuinfo") if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return "?"
    wanted = [f for f in flags if f in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16",
                                        "amx_tile", "avx512_fp16")]
    return ", ".join(wanted) + ("" if "amx_bf16" in flags else " (no AMX)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--routes", nargs="+", default=list(ROUTES), choices=list(ROUTES))
    p.add_argument("--steps", type=int, default=5, help="traced steps per model")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--timed", type=int, default=5, help="timed steps (median) before the trace")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=0,
                   help="every model's batch size (0: the models' own, 100 and 24)")
    p.add_argument("--min-ms", type=float, default=0.2,
                   help="list oneDNN primitives taking at least this many ms per step")
    p.add_argument("--markdown", help="also write the report to this file (atomically)")
    p.add_argument("--rounds", type=int, default=2,
                   help="rounds in which the models and routes take turns (each traces --steps)")
    p.add_argument("--child", nargs="+", choices=ROUTES, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.batch < 0:
        p.error(f"--batch must be 0 (the models' own) or positive, got {args.batch}")
    for n in ("steps", "rounds", "warmup", "timed", "threads"):
        if getattr(args, n) < 1:
            p.error(f"--{n} must be at least 1, got {getattr(args, n)}")
    args.load_before = os.getloadavg()[0]
    results = {}
    here = [r for r in ROUTES if r in args.routes and r != "fpmath"]
    if here:
        results.update(run_child(here, args))
    if "fpmath" in args.routes:  # oneDNN reads it once per process: a process of its own
        results.update(run_child(["fpmath"], args, {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"}))
    text = report(results, args)
    print(text)
    if args.markdown:
        tmp = args.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
