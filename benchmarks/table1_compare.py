"""Two Table 1 runs cell by cell: does B land within the seeds' standard error of A?

    python benchmarks/table1_compare.py A B [--metrics fd lp_fd skl nll precision leakage] \\
        [--markdown FILE]

A and B are ``reproduce table1 --out`` directories (their ``table1.json``); A is the reference (e.g.
the float32 table), B the one under test (e.g. a pair trained with ``--set
train.mixed_precision=bfloat16``, or the same protocol at another commit). For every model (regularizer,
prior) and metric the two have in common: A's and B's mean ± standard error over seeds, the difference
B − A, and two verdicts:

* "within A's SE": |B − A| ≤ SE_A, the issue's test ("lands within the seeds' standard error of its
  float32 cells");
* "z": (B − A) / sqrt(SE_A² + SE_B²), the difference in units of its own standard error (|z| > 2 is a
  difference the seeds do not explain; with 2 seeds each SE is itself rough).

Then, per regularizer, whether "dp beats its twin" (``table1.json``'s ``pairs``) says the same in both.
"""

from __future__ import annotations

import argparse
import math

import provenance

DEFAULT_METRICS = ("fd", "lp_fd", "skl", "nll", "neg_elbo", "precision", "density", "leakage")


def cell(aggregates: dict, reg: str, prior: str, metric: str) -> dict | None:
    value = aggregates.get(reg, {}).get(prior, {}).get(metric)
    return value if isinstance(value, dict) and value.get("n") else None


def compare_cells(a: dict, b: dict, metrics) -> list[dict]:
    """One record per (reg, prior, metric) present in both: means, SEs, difference, verdicts."""
    rows = []
    for reg in a["aggregates"]:
        for prior in a["aggregates"][reg]:
            for metric in metrics:
                ca, cb = cell(a["aggregates"], reg, prior, metric), cell(b["aggregates"], reg, prior, metric)
                if ca is None or cb is None:
                    continue
                diff = cb["mean"] - ca["mean"]
                scale = math.hypot(ca["se"], cb["se"])
                rows.append({"reg": reg, "prior": prior, "metric": metric, "a": ca, "b": cb, "diff": diff,
                             "within_se_a": abs(diff) <= ca["se"],
                             "z": diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)})
    return rows


def pair_agreement(a: dict, b: dict) -> list[tuple[str, int, list[str]]]:
    """(reg, metrics compared, metrics where "dp beats its twin" differs) for regs in both."""
    out = []
    for reg, pa in a.get("pairs", {}).items():
        pb = b.get("pairs", {}).get(reg)
        if not pb:
            continue
        shared = sorted(set(pa["dp_better"]) & set(pb["dp_better"]))
        out.append((reg, len(shared), [m for m in shared if pa["dp_better"][m] != pb["dp_better"][m]]))
    return out


def report(dir_a: str, dir_b: str, metrics) -> str:
    a, b = provenance.read_table1(dir_a), provenance.read_table1(dir_b)
    rows = compare_cells(a, b, metrics)
    if not rows:
        raise SystemExit(f"{dir_a} and {dir_b} share no (regularizer, prior, metric) cell")
    lines = ["# Table 1, cell by cell\n", provenance.stamp(), "",
             f"A = {dir_a} (commit {provenance.short_commit(a.get('commit'))}, seeds {a.get('seeds')}, overrides "
             f"{a.get('overrides') or 'none'}); B = {dir_b} (commit {provenance.short_commit(b.get('commit'))}, seeds "
             f"{b.get('seeds')}, overrides {b.get('overrides') or 'none'}). Mean ± standard error over seeds.",
             "", "| regularizer | prior | metric | A | B | B − A | within A's SE | z |",
             "|---|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['reg']} | {r['prior']} | {r['metric']} | {r['a']['mean']:.4g} ± {r['a']['se']:.2g} | "
                     f"{r['b']['mean']:.4g} ± {r['b']['se']:.2g} | {r['diff']:+.3g} | "
                     f"{'yes' if r['within_se_a'] else 'no'} | {r['z']:+.2f} |")
    within = sum(r["within_se_a"] for r in rows)
    beyond = [r for r in rows if abs(r["z"]) > 2]
    lines += ["", f"{within} of {len(rows)} cells within A's SE; {len(beyond)} with |z| > 2"
              + (": " + ", ".join(f"{r['reg']}/{r['prior']}/{r['metric']} ({r['z']:+.1f})" for r in beyond)
                 if beyond else "") + "."]
    agreement = pair_agreement(a, b)
    if agreement:
        lines += ["", "\"dp beats its twin\", A against B:", "",
                  "| regularizer | metrics compared | where they disagree |", "|---|---:|---|"]
        lines += [f"| {reg} | {n} | {', '.join(differ) or 'none'} |" for reg, n, differ in agreement]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the reference table's --out directory")
    parser.add_argument("b", help="the table under test's --out directory")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    parser.add_argument("--markdown", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    provenance.print_table(report(args.a, args.b, args.metrics), args.markdown)


if __name__ == "__main__":
    main()
