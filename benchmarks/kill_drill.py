"""Kill drill: SIGKILL ``train``, ``evaluate`` and ``export`` at random moments and check what they leave.

    python benchmarks/kill_drill.py [--trials 3] [--seed 0] [--keep DIR]

Every command runs as a user runs it (``python -m tf_dpvae.<command>``, a subprocess, tiny settings on
two moons) and is killed with SIGKILL at a moment drawn uniformly from [0.3, 1.05] × the wall time of an
undisturbed run of the same command, measured first (so kills land in start-up, training, checkpoint
saves, figure drawing and publishing alike; a draw past the end kills nothing, and the table says how
many kills landed). The draws come from ``numpy.random.default_rng(seed)``.

What "intact" means, per command:

train     the killed run, rerun to the end undisturbed, holds the same final latest *and* best
          checkpoint as an undisturbed run, bit for bit (every model and optimizer variable but the
          evaluation RNG), every checkpoint on disk reads back whole (``checkpoints.damage``), and
          no temporary of a killed save or write is left (``ckpt-N_temp/``, ``.tmp-*``).
evaluate  after the kill, ``eval/`` is the old set (byte for byte) or a new one, whole: the same
          files, ``metrics.json`` parses, every figure is a PNG. After one more undisturbed run no
          ``.tmp-eval-*``/``.old-eval-*`` temporaries are left.
export    after the kill, every version directory is complete and answers ``sample`` through TF
          Serving's graph path (``export.session.ServingSession``). After one more undisturbed
          export no ``.tmp-export-*`` temporaries are left.

"corrupted" counts trials where a check failed; the script exits 1 if any did.

Measured (`benchmarks/kill_drill.py --trials 6 --seed 1`, 2026-12-02 18:24 UTC, commit c8accb7,
1-minute load average 1.2 on 2 cores; drill wall time 210 s):

| command | trials | kills landed | intact | corrupted | temporaries left after the next run |
|---|---|---|---|---|---|
| train | 6 | 4 | 6 | 0 | checked per trial (intact) |
| evaluate | 6 | 6 | 6 | 0 | none |
| export | 6 | 6 | 6 | 0 | none |

Kills landed at steps 10, 20 and 25 of 40 and in start-up (train), on both sides of the eval/ swap,
and before and after an export's rename. An earlier version of this drill found a kill during a
best-checkpoint save leaving ``ckpt-10_temp/`` behind for good; ``checkpoints.clean_temporaries``
now removes it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = provenance.ROOT
TRAIN = ["--reg", "beta", "--num-examples", "200", "--batch-size", "40", "--epochs", "8",
         "--hidden-units", "16", "--hidden-layers", "2", "--flow-units", "16", "--flow-blocks", "2",
         "--seed", "0", "--no-export"]
EVALUATE = ["--num-samples", "200", "--lp-pool", "2", "--skl-samples", "200", "--is-samples", "10",
            "--nll-examples", "50"]
# × the undisturbed wall time; a third of it or more is the process starting (TensorFlow's import)
KILL_WINDOW = (0.3, 1.05)


def run(command: list[str], log: str, kill_after: float | None = None) -> dict:
    """Run ``python -m tf_dpvae.<command...>``; SIGKILL it after ``kill_after`` s if still running.
    Returns {"seconds", "returncode", "killed"}."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", *command], stdout=out,
                                   stderr=subprocess.STDOUT, env=env, cwd=os.path.dirname(log))
        killed = False
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed = True
    return {"seconds": time.perf_counter() - start, "returncode": process.returncode,
            "killed": killed}


def must_succeed(result: dict, what: str, log: str) -> None:
    if result["returncode"] != 0:
        tail = open(log).read()[-2000:]
        raise SystemExit(f"{what} failed (status {result['returncode']}); its log ends:\n{tail}")


# ------------------------------------------------------------------------------------------ checks
def checkpoint_values(prefix: str) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("weights/", "optimizer/")) and "evaluation_seed" not in name}


def same_values(a: dict, b: dict) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def final_checkpoints(run_dir: str) -> tuple[str | None, str | None]:
    from tf_dpvae import checkpoints, runs

    latest = checkpoints.find(runs.checkpoint_dir(run_dir)).latest
    best = checkpoints.find(runs.checkpoint_dir(run_dir, "best")).latest
    return latest, best


def train_problem(run_dir: str, reference: dict) -> str | None:
    """Why the resumed run differs from the undisturbed one or left temporaries, or None."""
    from tf_dpvae import checkpoints, runs

    for directory in (runs.CHECKPOINT_DIR, os.path.join(runs.CHECKPOINT_DIR, runs.BEST_DIR)):
        for prefix in checkpoints.on_disk(os.path.join(run_dir, directory)):
            why = checkpoints.damage(prefix)
            if why:
                return f"{prefix} does not read back: {why}"
    for directory in ("", runs.CHECKPOINT_DIR, os.path.join(runs.CHECKPOINT_DIR, runs.BEST_DIR)):
        left = [n for n in leftovers(os.path.join(run_dir, directory), (".tmp-",))
                if n != ".tmp-eval"] + [n for n in os.listdir(os.path.join(run_dir, directory))
                                        if n.endswith("_temp") or ".tempstate" in n]
        if left:
            return f"temporaries left in {os.path.join(run_dir, directory)}: {left}"
    latest, best = final_checkpoints(run_dir)
    if latest is None or os.path.basename(latest) != os.path.basename(reference["latest_path"]):
        return f"latest checkpoint {latest}, expected {reference['latest_path']}"
    if not same_values(checkpoint_values(latest), reference["latest"]):
        return "latest checkpoint's values differ from the undisturbed run's"
    if best is None or not same_values(checkpoint_values(best), reference["best"]):
        return f"best checkpoint {best} differs from the undisturbed run's"
    return None


def tree_bytes(directory: str) -> dict:
    out = {}
    for base, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = f.read()
    return out


def eval_problem(run_dir: str, old: dict) -> str | None:
    """Why ``eval/`` is neither the old set nor a whole new one, or None."""
    eval_dir = os.path.join(run_dir, "eval")
    if not os.path.isdir(eval_dir):
        return "eval/ is missing"
    now = tree_bytes(eval_dir)
    if now == old:
        return None
    if set(now) != set(old):
        return f"eval/ holds {sorted(now)}, expected {sorted(old)}"
    try:
        json.loads(now["metrics.json"])
    except ValueError as err:
        return f"metrics.json does not parse: {err}"
    bad = [n for n, data in now.items() if n.endswith(".png") and not data.startswith(b"\x89PNG")]
    return f"not PNG: {bad}" if bad else None


def leftovers(directory: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.startswith(prefixes)) \
        if os.path.isdir(directory) else []


def export_problem(models: str) -> str | None:
    """Why some version in ``models`` is incomplete or does not serve, or None."""
    import numpy as np

    from tf_dpvae.export.session import ServingSession

    for name in sorted(os.listdir(models)) if os.path.isdir(models) else []:
        if not name.isdigit():
            continue
        path = os.path.join(models, name)
        try:
            with ServingSession(path) as session:
                drawn = session.run("sample", num_samples=np.int32(2),
                                    seed=np.array([1, 2], np.int32), temperature=np.float32(1.0))
            if drawn["images"].shape != (2, 2) or not np.isfinite(drawn["images"]).all():
                return f"version {name} answers {drawn['images'].shape}"
        except Exception as err:  # noqa: BLE001 - any failure to load or run is the finding
            return f"version {name} does not serve: {type(err).__name__}: {str(err)[:200]}"
    return None


# ------------------------------------------------------------------------------------------ drills
def drill_train(work: str, rng, trials: int) -> dict:
    ref_dir = os.path.join(work, "train_reference")
    result = run(["tf_dpvae.train", *TRAIN, "--out", ref_dir], os.path.join(work, "train_ref.log"))
    must_succeed(result, "the undisturbed training run", os.path.join(work, "train_ref.log"))
    latest, best = final_checkpoints(ref_dir)
    reference = {"latest_path": latest, "latest": checkpoint_values(latest),
                 "best": checkpoint_values(best)}
    counts = {"trials": trials, "kills": 0, "intact": 0, "corrupted": 0, "problems": [],
              "moments": [], "undisturbed_s": result["seconds"]}
    for trial in range(trials):
        run_dir = os.path.join(work, f"train_{trial}")
        kill_after = rng.uniform(*KILL_WINDOW) * result["seconds"]
        log = os.path.join(work, f"train_{trial}_killed.log")
        killed = run(["tf_dpvae.train", *TRAIN, "--out", run_dir], log, kill_after)["killed"]
        counts["kills"] += killed
        log = os.path.join(work, f"train_{trial}_resumed.log")
        resumed = run(["tf_dpvae.train", *TRAIN, "--out", run_dir], log)
        step = re.search(r"resuming from \S+ \(step (\d+)\)", open(log).read())
        counts["moments"].append(f"{kill_after:.0f} s" + (
            (f" → resumed from step {step.group(1)}" if step else " → started over (no checkpoint "
             "yet)") if killed else " (past the end)"))
        problem = (f"the rerun failed with status {resumed['returncode']}"
                   if resumed["returncode"] else train_problem(run_dir, reference))
        counts["intact" if problem is None else "corrupted"] += 1
        if problem:
            counts["problems"].append(f"train trial {trial} (kill at {kill_after:.1f} s): {problem}")
    counts["reference_dir"] = ref_dir
    return counts


def drill_evaluate(work: str, run_dir: str, rng, trials: int) -> dict:
    log = os.path.join(work, "evaluate_ref.log")
    result = run(["tf_dpvae.evaluate", run_dir, *EVALUATE], log)
    must_succeed(result, "the undisturbed evaluation", log)
    counts = {"trials": trials, "kills": 0, "intact": 0, "corrupted": 0, "problems": [],
              "moments": [], "undisturbed_s": result["seconds"]}
    for trial in range(trials):
        old = tree_bytes(os.path.join(run_dir, "eval"))
        kill_after = rng.uniform(*KILL_WINDOW) * result["seconds"]
        log = os.path.join(work, f"evaluate_{trial}.log")
        killed = run(["tf_dpvae.evaluate", run_dir, *EVALUATE], log, kill_after)["killed"]
        counts["kills"] += killed
        problem = eval_problem(run_dir, old)
        kept = tree_bytes(os.path.join(run_dir, "eval")) == old if problem is None else None
        counts["moments"].append(f"{kill_after:.0f} s" + (
            {True: " → old set", False: " → new set", None: " → mixed"}[kept] if killed
            else " (past the end)"))
        counts["intact" if problem is None else "corrupted"] += 1
        if problem:
            counts["problems"].append(f"evaluate trial {trial} (kill at {kill_after:.1f} s): {problem}")
            shutil.rmtree(os.path.join(run_dir, "eval"), ignore_errors=True)
            must_succeed(run(["tf_dpvae.evaluate", run_dir, *EVALUATE], log + ".redo"),
                         "re-evaluation", log + ".redo")
    log = os.path.join(work, "evaluate_after.log")
    must_succeed(run(["tf_dpvae.evaluate", run_dir, *EVALUATE], log), "the next evaluation", log)
    counts["left_after_next_run"] = leftovers(run_dir, (".tmp-eval-", ".old-eval-"))
    return counts


def drill_export(work: str, run_dir: str, rng, trials: int) -> dict:
    models = os.path.join(work, "models")
    log = os.path.join(work, "export_ref.log")
    result = run(["tf_dpvae.export", run_dir, "--out", models], log)
    must_succeed(result, "the undisturbed export", log)
    counts = {"trials": trials, "kills": 0, "intact": 0, "corrupted": 0, "problems": [],
              "moments": [], "undisturbed_s": result["seconds"]}
    for trial in range(trials):
        kill_after = rng.uniform(*KILL_WINDOW) * result["seconds"]
        log = os.path.join(work, f"export_{trial}.log")
        before = sorted(n for n in os.listdir(models) if n.isdigit())
        killed = run(["tf_dpvae.export", run_dir, "--out", models], log, kill_after)["killed"]
        counts["kills"] += killed
        problem = export_problem(models)
        after = sorted(n for n in os.listdir(models) if n.isdigit())
        temporaries = leftovers(models, (".tmp-export-",))
        counts["moments"].append(f"{kill_after:.0f} s" + (
            (" → new version" if after != before else " → no new version")
            + (f", {len(temporaries)} temporary" if temporaries else "")
            if killed else " (past the end)"))
        counts["intact" if problem is None else "corrupted"] += 1
        if problem:
            counts["problems"].append(f"export trial {trial} (kill at {kill_after:.1f} s): {problem}")
    log = os.path.join(work, "export_after.log")
    must_succeed(run(["tf_dpvae.export", run_dir, "--out", models], log), "the next export", log)
    counts["left_after_next_run"] = leftovers(models, (".tmp-export-",))
    problem = export_problem(models)
    if problem:
        counts["problems"].append(f"after the next export: {problem}")
    counts["versions"] = sorted(int(n) for n in os.listdir(models) if n.isdigit())
    return counts


def table(rows: dict) -> str:
    lines = ["| command | trials | kills landed | intact | corrupted | temporaries left after the "
             "next run |", "|---|---|---|---|---|---|"]
    for name, c in rows.items():
        left = c.get("left_after_next_run")
        left = "checked per trial (intact)" if left is None else (", ".join(left) or "none")
        lines.append(f"| {name} | {c['trials']} | {c['kills']} | {c['intact']} | {c['corrupted']} "
                     f"| {left} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=3, help="kills per command (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default 0)")
    p.add_argument("--keep", default=None, help="work in this directory and keep it (default: a "
                   "temporary directory, removed at the end)")
    args = p.parse_args(argv)
    import numpy as np

    from tf_dpvae.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")   # the TF1 loader's deprecation notice

    rng = np.random.default_rng(args.seed)
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="kill_drill-")
    os.makedirs(work, exist_ok=True)
    started = time.perf_counter()
    try:
        rows = {"train": drill_train(work, rng, args.trials)}
        run_dir = rows["train"]["reference_dir"]
        rows["evaluate"] = drill_evaluate(work, run_dir, rng, args.trials)
        rows["export"] = drill_export(work, run_dir, rng, args.trials)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(provenance.stamp())
    print(f"kill moments uniform in [{KILL_WINDOW[0]}, {KILL_WINDOW[1]}] × the undisturbed wall "
          f"time, seed {args.seed}; drill wall time {time.perf_counter() - started:.0f} s")
    print()
    print(table(rows))
    problems = [p for row in rows.values() for p in row["problems"]]
    print()
    for name, row in rows.items():
        print(f"{name}: undisturbed {row['undisturbed_s']:.0f} s; kills at "
              + "; ".join(row["moments"]))
    for problem in problems:
        print(f"- {problem}")
    bad = problems or any(row.get("left_after_next_run") for row in rows.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
