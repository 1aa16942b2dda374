"""Where a training run's time goes, for the default command and one Table 1 model, and the same
against an older checkout of the code, measured in one invocation.

    python benchmarks/where_time_goes.py                          # this checkout only
    git worktree add /tmp/old b6bcdf6
    python benchmarks/where_time_goes.py --old /tmp/old --rounds 2 --moons-steps 4000 \
        --markdown results/performance/where_time_goes.md

Cases:
    moons    the default command's model (``python -m tf_dpvae.train --reg factor``), ``--moons-steps``
             steps (the full run is 4,000; 1,000 = 10 of its 40 epochs)
    fashion  one Table 1 model, reduced protocol, d = 2: Factor-dpVAE (``table1.pair_configs``'s dp
             configuration: the authors' 1000×5 discriminator), ``--fashion-steps`` steps (of 1,080)

Each (checkout, case) runs in a child process of its own (a checkout's code is imported there), the
checkouts alternating round by round, and each child prints one row, times in seconds unless named:
    cli ms/step   ``training.fit``'s Keras loop (``model.fit``) wall time / steps: step, input,
                  callbacks, validation and figures together, as the command runs them
    startup       from the child's start to ``training.fit``: imports, the data, the configuration
    step ms       the compiled step alone: ``tf.function(model.train_step)`` on one fixed batch, 50
                  steps then one sync, the median of 5 such rounds, per step
    GFLOP/step    the step's dense kernels' arithmetic: every MatMul and Conv2D op that a call of
                  that traced step runs, forward and backward (``kernel_flops``)
    input ms      the input pipeline alone: the run's training ``tf.data`` stream, per batch
    callbacks     the callbacks' own time during ``model.fit`` (every hook timed), figures and
                  validation excluded
    validation    Keras's validation passes (``on_test_begin`` to ``on_test_end``)
    figure        the 2-D figures and image summaries (FigureSummaries, ImageSummaries,
                  BestEpochSummaries) and the final ``figure.png``
    export        the SavedModel export the command does at the end (``export_run``)
    total         ``training.fit`` plus the export, wall
A second table lists each callback's own time; a line gives the kernels' GFLOP per step and
the rate the compiled step achieves on them.
Absolute times drift on a shared machine: compare the two checkouts through the ratios (median over
rounds, new / old), measured here interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provenance  # noqa: E402

ROOT = provenance.ROOT
COLUMNS = ("startup", "cli_ms_per_step", "step_ms", "kernel_gflop", "input_ms", "callbacks", "validation",
           "figure", "export", "total")
HEADERS = ("startup s", "cli ms/step", "step ms", "GFLOP/step", "input ms", "callbacks s", "validation s",
           "figure s", "export s", "total s")
FIGURE_CALLBACKS = ("FigureSummaries", "ImageSummaries", "BestEpochSummaries")
HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
         "on_test_batch_end")


STARTED = time.perf_counter()   # the child's start: imports, data and model building count as startup
KERNEL_TYPES = ("MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def executed_ops(graph) -> set[str]:
    """Names of the ops a call of ``graph`` runs: the ancestors of its outputs and of its stateful
    ops (variable updates). A gradient's graph also holds products nobody asked for (the gradient
    with respect to the input images, say), which the function runtime prunes and never runs."""
    roots = [t.op for t in graph.outputs] + [op for op in graph.get_operations()
                                             if op.op_def is not None and op.op_def.is_stateful]
    seen, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def kernel_flops(graph) -> dict:
    """{"ops", "skipped", "flops"} of the step's dense kernels: every MatMul and Conv2D op that a call
    of the traced step runs (``executed_ops``), forward and backward. ``flops`` counts 2·m·k·n per
    matrix product and 2·(forward output size)·(kernel size / output channels) per convolution, in
    either direction; ops whose shapes are not static are skipped and counted."""
    ops, flops, skipped = 0, 0, 0
    live = executed_ops(graph)
    for op in graph.get_operations():
        if op.type not in KERNEL_TYPES or op.name not in live:
            continue
        shapes = [t.shape for t in op.inputs]
        if not all(s.is_fully_defined() for s in shapes) or not op.outputs[0].shape.is_fully_defined():
            skipped += 1
            continue
        ops += 1
        if op.type in ("MatMul", "BatchMatMulV2"):
            transposed = (op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x"))
            inner = shapes[0][-2] if transposed else shapes[0][-1]
            flops += 2 * op.outputs[0].shape.num_elements() * inner
        else:   # 2 · (forward output size) · (filter size / output channels), in each direction
            forward_out = op.outputs[0].shape if op.type == "Conv2D" else shapes[2]
            kernel = op.outputs[0].shape if op.type == "Conv2DBackpropFilter" else shapes[1]
            flops += 2 * forward_out.num_elements() * kernel.num_elements() // kernel[-1]
    return {"ops": ops, "skipped": skipped, "flops": flops}


def child(tree: str, case: str, steps: int) -> dict:
    """Measure one case with the code of checkout ``tree`` (imported from it)."""
    # ``provenance`` imported this checkout's tf_dpvae already: forget it, so that the package and
    # every module of it come from ``tree``
    for name in [n for n in sys.modules if n == "tf_dpvae" or n.startswith("tf_dpvae.")]:
        del sys.modules[name]
    sys.path.insert(0, tree)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    import tf_dpvae
    from tf_dpvae import data as data_lib
    from tf_dpvae import training

    imported_from = os.path.dirname(os.path.dirname(os.path.abspath(tf_dpvae.__file__)))
    if os.path.realpath(imported_from) != os.path.realpath(tree):
        raise SystemExit(f"tf_dpvae was imported from {imported_from}, not from the checkout {tree}")
    from tf_dpvae.config import RunConfig
    from tf_dpvae.export import savedmodel

    if case == "moons":
        config = RunConfig().replace(objective={"reg": "factor"}, train={"steps": steps})
    else:
        try:   # Table 1's protocol has lived in experiments/ since issue 23, in table1.py before
            from tf_dpvae.experiments import protocol as table1
        except ImportError:
            from tf_dpvae import table1

        splits0 = data_lib.load(RunConfig().replace(data={"dataset": "fashion_mnist"}).data, 0)
        config = table1.pair_configs(table1.REDUCED, "factor", 0, splits0.num_train)["dp"]
        config = config.replace(train={"steps": steps})
    splits = data_lib.load(config.data, config.train.seed)
    seconds = {"callbacks": 0.0, "validation": 0.0, "figure": 0.0, "loop": 0.0}

    by_callback: dict[str, float] = {}

    def timed(fn, key, name=None):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                seconds[key] += spent
                if name:
                    by_callback[name] = by_callback.get(name, 0.0) + spent
        return wrapper

    class Validation(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_test_end(self, logs=None):
            seconds["validation"] += time.perf_counter() - self.start

    build_callbacks = training.build_callbacks

    def instrumented(*args, **kwargs):
        callbacks = build_callbacks(*args, **kwargs)
        for callback in callbacks:
            key = "figure" if type(callback).__name__ in FIGURE_CALLBACKS else "callbacks"
            for hook in HOOKS:
                if key == "callbacks" and hook.startswith("on_test"):
                    continue   # inside the validation pass, counted there
                setattr(callback, hook, timed(getattr(callback, hook), key, type(callback).__name__))
        return [Validation(), *callbacks]

    training.build_callbacks = instrumented
    training.moons_figure_png = timed(training.moons_figure_png, "figure")
    fit = keras.Model.fit
    keras.Model.fit = timed(fit, "loop")
    out = tempfile.mkdtemp(prefix="where_time_goes_")
    start = fit_started = time.perf_counter()
    result = training.fit(config, os.path.join(out, "run"), splits=splits, verbose=0,
                          log=lambda *_: None)
    fit_wall = time.perf_counter() - start
    keras.Model.fit = fit
    start = time.perf_counter()
    savedmodel.export_run(os.path.join(out, "run"), os.path.join(out, "export"))
    export = time.perf_counter() - start
    trained = result.step - result.resumed_from

    # the compiled step and the input pipeline alone, on a fresh model of the same configuration
    model = training.new_model(config, splits)
    model.monitor_steps()
    train_ds, _ = training.make_pipelines(config, splits, repeat=True)
    iterator = iter(train_ds)
    batch = next(iterator)
    step = tf.function(model.train_step)
    step(batch)["loss"].numpy()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(50):
            logs = step(batch)
        logs["loss"].numpy()
        rounds.append((time.perf_counter() - start) / 50)
    start = time.perf_counter()
    for _ in range(200):
        next(iterator)
    input_ms = (time.perf_counter() - start) / 200 * 1e3
    kernels = kernel_flops(step.get_concrete_function(batch).graph)
    return {"cli_ms_per_step": seconds["loop"] / trained * 1e3,
            "step_ms": statistics.median(rounds) * 1e3, "kernel_gflop": kernels["flops"] / 1e9,
            "kernels": kernels,
            "startup": fit_started - STARTED, "input_ms": input_ms,
            "callbacks": seconds["callbacks"], "validation": seconds["validation"],
            "figure": seconds["figure"], "export": export, "total": fit_wall + export,
            "steps": trained, "load": os.getloadavg()[0], "by_callback": by_callback}


def run_child(tree: str, case: str, steps: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": tree}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", tree, case,
                           str(steps)], capture_output=True, text=True, env=env, cwd=tree)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"child {tree} {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv=None) -> None:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", help="an older checkout to compare with (git worktree add PATH COMMIT)")
    p.add_argument("--rounds", type=int, default=1, help="rounds, the checkouts alternating")
    p.add_argument("--cases", nargs="+", default=["moons", "fashion"], choices=["moons", "fashion"])
    p.add_argument("--moons-steps", type=int, default=1000)
    p.add_argument("--fashion-steps", type=int, default=200)
    p.add_argument("--markdown", help="also write the tables to this file")
    args = p.parse_args(argv)
    trees = {"new": ROOT, **({"old": os.path.abspath(args.old)} if args.old else {})}
    steps = {"moons": args.moons_steps, "fashion": args.fashion_steps}
    rows: dict[tuple[str, str], list[dict]] = {}
    loads = []
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for case in args.cases:
            for name in order:
                row = run_child(trees[name], case, steps[case])
                rows.setdefault((name, case), []).append(row)
                loads.append(row["load"])
                print(f"round {r + 1}: {name} {case}: " + ", ".join(
                    f"{k} {row[k]:.2f}" for k in COLUMNS), file=sys.stderr, flush=True)
    lines = [provenance.stamp(), "",
             "Checkouts: " + ", ".join(f"{n} = {provenance.git_commit(t, short=True)}" for n, t in trees.items())
             + f". {args.rounds} round(s), checkouts alternating; medians over rounds; 1-minute "
             f"load average during the children {min(loads):.1f}–{max(loads):.1f} on "
             f"{os.cpu_count()} cores.", "",
             "| case | code | steps | " + " | ".join(HEADERS) + " |",
             "|---|---|---:|" + "---:|" * len(HEADERS)]
    medians = {key: {c: statistics.median(row[c] for row in values) for c in COLUMNS}
               for key, values in rows.items()}
    for case in args.cases:
        for name in trees:
            m = medians[(name, case)]
            lines.append(f"| {case} | {name} | {steps[case]} | "
                         + " | ".join(f"{m[c]:.2f}" for c in COLUMNS) + " |")
    kernels = []
    for case in args.cases:
        first, step_ms = rows[("new", case)][0], medians[("new", case)]["step_ms"]
        kernels.append(f"{case}: {first['kernels']['ops']} MatMul/Conv2D ops "
                       f"({first['kernels']['skipped']} skipped), {first['kernel_gflop']:.3f} GFLOP per step, "
                       f"{first['kernel_gflop'] / step_ms * 1e3:.0f} GFLOP/s over the whole compiled step")
    names = sorted({k for case in args.cases for r in rows[("new", case)] for k in r["by_callback"]})
    lines += ["", "The dense kernels, new code: " + "; ".join(kernels) + ".", "",
              "Callbacks one by one, new code, seconds over the run (median over rounds; the figure "
              "callbacks included):", "", "| case | " + " | ".join(names) + " |",
              "|---|" + "---:|" * len(names)]
    for case in args.cases:
        lines.append(f"| {case} | " + " | ".join(
            f"{statistics.median(r['by_callback'].get(n, 0.0) for r in rows[('new', case)]):.2f}"
            for n in names) + " |")
    if "old" in trees:
        lines += ["", "Ratios new / old (below 1: faster now):", "",
                  "| case | " + " | ".join(HEADERS) + " |", "|---|" + "---:|" * len(HEADERS)]
        for case in args.cases:
            new, old = medians[("new", case)], medians[("old", case)]
            lines.append(f"| {case} | " + " | ".join(
                f"{new[c] / old[c]:.2f}" if old[c] > 0 else "–" for c in COLUMNS) + " |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown + ".tmp", "w", encoding="utf-8") as f:
            f.write("# Where training time goes\n\n" + text + "\n")
        os.replace(args.markdown + ".tmp", args.markdown)   # atomic


if __name__ == "__main__":
    main()
