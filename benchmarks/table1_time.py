"""Where a ``python -m tf_dpvae.reproduce table1`` run's wall time went, from the files it wrote.

    python benchmarks/table1_time.py results/t1_timing [results/fashion_mnist ...] \\
        [--load-log /tmp/t1load.log] [--goal-minutes 60] [--markdown FILE]

Each argument is a table's ``--out`` directory: its ``table1.json`` records every row's training and
evaluation seconds (``wall_seconds``; training of a post-hoc row is its prior's fit), and its
``reproduce.log`` the feature classifier's training (the one-time cost of a fresh ``--out``, counted
when the last invocation trained it) and the last invocation's start and end. Printed per table: the
classifier, training and evaluation summed over the trained rows (normal, dp) and the post-hoc rows
(gmm, flow), the median evaluation, the total against the goal, and whether its ``table1.csv`` is
byte-identical to the first table's (the same protocol at another commit gives the same table when
training and evaluation are deterministic and the code's arithmetic has not changed).

``--load-log``: lines "HH:MM:SS load1 load5 load15" sampled during the run (the machine's load, which
the times depend on); their 1-minute range is printed under the table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics

import provenance

TRAINED, POST_HOC = ("normal", "dp"), ("gmm", "flow")
CLASSIFIER_LINE = re.compile(r"feature classifier: \S+ accuracy [0-9.]+ \((\d+) s\)")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) ")


def last_invocation(log_text: str) -> list[str]:
    """The lines of ``reproduce.log`` from its last "table1: protocol …" line on."""
    lines = log_text.splitlines()
    starts = [i for i, line in enumerate(lines) if " table1: protocol " in line]
    return lines[starts[-1]:] if starts else []


def classifier_seconds(log_text: str) -> float | None:
    """Seconds of the feature classifier's training in the log's last invocation; None if that
    invocation found it cached (trained by an earlier one, or for another table in the same --out)."""
    found = CLASSIFIER_LINE.findall("\n".join(last_invocation(log_text)))
    return float(found[-1]) if found else None


def last_invocation_seconds(log_text: str) -> float | None:
    """Seconds from the last invocation's first line ("table1: protocol …") to the log's last stamped
    line: the wall time of that command, everything between rows included; None without a log."""
    stamps = [m.group(1) for line in last_invocation(log_text) if (m := STAMP.match(line))]
    if not stamps:
        return None
    first, last = (datetime.datetime.fromisoformat(stamps[i]) for i in (0, -1))
    return (last - first).total_seconds()


def summarize(table: dict) -> dict:
    """Seconds summed by row kind ({train_trained, eval_trained, train_post_hoc, eval_post_hoc}),
    the evaluations' median and maximum, and the row counts, from ``table1.json``'s ``models``."""
    rows = table["models"].values()
    out = {"rows": len(rows)}
    for kind, priors in (("trained", TRAINED), ("post_hoc", POST_HOC)):
        chosen = [r["wall_seconds"] for r in rows if r["prior"] in priors and r.get("wall_seconds")]
        out[f"rows_{kind}"] = len(chosen)
        out[f"train_{kind}"] = sum(w.get("train_seconds") or 0.0 for w in chosen)
        out[f"eval_{kind}"] = sum(w.get("eval_seconds") or 0.0 for w in chosen)
    evals = [r["wall_seconds"]["eval_seconds"] for r in rows
             if (r.get("wall_seconds") or {}).get("eval_seconds")]
    out["eval_median"] = statistics.median(evals) if evals else float("nan")
    out["eval_max"] = max(evals, default=float("nan"))
    return out


def load_range(path: str) -> tuple[float, float, float]:
    """(min, median, max) of the 1-minute load averages in a load log."""
    values = [float(line.split()[1]) for line in open(path, encoding="utf-8") if len(line.split()) >= 2]
    if not values:
        raise SystemExit(f"--load-log {path!r} holds no 'HH:MM:SS load1 ...' lines")
    return min(values), statistics.median(values), max(values)


def read_table(out_dir: str) -> tuple[dict, str]:
    """(table1.json, reproduce.log's text or "") of a table's --out directory."""
    log = os.path.join(out_dir, "reproduce.log")
    return (provenance.read_table1(out_dir),
            open(log, encoding="utf-8").read() if os.path.isfile(log) else "")


def csv_identical(a: str, b: str) -> str:
    pa, pb = (os.path.join(d, "table1.csv") for d in (a, b))
    if not (os.path.isfile(pa) and os.path.isfile(pb)):
        return "-"
    return "yes" if open(pa, "rb").read() == open(pb, "rb").read() else "no"


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def report(out_dirs: list[str], goal_minutes: float, load_log: str | None = None) -> str:
    lines = ["# Table 1's wall time\n", provenance.stamp(), "",
             "| table | commit | rows (trained + post-hoc) | classifier min | train: trained min | "
             "train: post-hoc fits min | eval: trained min | eval: post-hoc min | eval median s | "
             "eval max s | total min | last invocation's wall min | goal | table1.csv identical to the first |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for out_dir in out_dirs:
        table, log = read_table(out_dir)
        s = summarize(table)
        classifier = classifier_seconds(log)
        total = ((classifier or 0.0) + s["train_trained"] + s["train_post_hoc"] + s["eval_trained"]
                 + s["eval_post_hoc"])
        lines.append(
            f"| {out_dir} | {provenance.short_commit(table.get('commit'))} "
            f"| {s['rows']} ({s['rows_trained']} + {s['rows_post_hoc']}) | {minutes(classifier)} | "
            f"{minutes(s['train_trained'])} | {minutes(s['train_post_hoc'])} | {minutes(s['eval_trained'])} | "
            f"{minutes(s['eval_post_hoc'])} | {s['eval_median']:.1f} | {s['eval_max']:.1f} | "
            f"{minutes(total)} | {minutes(last_invocation_seconds(log))} | "
            f"{'met' if total <= goal_minutes * 60 else 'missed'} (≤ {goal_minutes:g} min) | "
            f"{csv_identical(out_dirs[0], out_dir)} |")
    lines += ["", "Total = classifier (the one-time training of a fresh `--out`, when the last invocation "
              "trained it; '-' when it found it cached) "
              "+ training + evaluation of every row, from `table1.json`'s `wall_seconds` and "
              "`reproduce.log`; time between rows (loading data, writing tables) is not in it. The goal "
              "is judged on the total. The last invocation's wall: from its first line to the last "
              "line of `reproduce.log` (everything included; a resumed table's earlier invocations "
              "are not in it)."]
    if load_log:
        low, mid, high = load_range(load_log)
        lines.append(f"1-minute load average during the first table's run ({load_log}): "
                     f"{low:.1f}–{high:.1f}, median {mid:.1f}, on {os.cpu_count()} cores.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dirs", nargs="+", help="reproduce table1 --out directories")
    parser.add_argument("--goal-minutes", type=float, default=60.0)
    parser.add_argument("--load-log", default=None)
    parser.add_argument("--markdown", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    provenance.print_table(report(args.out_dirs, args.goal_minutes, args.load_log), args.markdown)


if __name__ == "__main__":
    main()
