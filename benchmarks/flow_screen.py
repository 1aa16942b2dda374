"""The flow screen of issue 22: the same dp models trained with different flows, side by side.

    python benchmarks/flow_screen.py LABEL=TABLE_DIR [LABEL=TABLE_DIR ...] [--seed-of-record 0]
                                     [--out FILE.md]

Each TABLE_DIR is the ``--out`` of a ``python -m tf_dpvae.reproduce table1`` that differs from the
others only in ``prior.*`` overrides (the normal-prior twins and the post-hoc priors are the same
models in every table: the flow settings reach the dp model only). The script reads each table's
``table1.json`` and prints, per regularizer, one row per flow (its dp model) and the rows shared by
all tables (the normal-prior twin, the retrofit flow, the ex-post GMM, from the first table), with the
columns that decide the choice: FD and LP-FD (classifier features), LP-FD/FD, sKL and its KL[p‖q]
half, IS-NLL, and the precision, density and coverage of random samples on the classifier's
features and in the representation space z (prior samples against q(z) samples). Means over the
seeds each table holds; n in the second column.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)


COLUMNS = (("fd", "FD ↓"), ("lp_fd", "LP-FD ↓"), ("lp_fd_ratio", "LP/FD ↓"), ("skl", "sKL ↓"),
           ("kl_pq", "KL[p‖q] ↓"), ("nll", "IS-NLL ↓"), ("precision", "P ↑"), ("density", "D ↑"),
           ("coverage", "C ↑"), ("z_precision", "P(z) ↑"), ("z_density", "D(z) ↑"))
SHARED = (("normal", "normal prior (twin)"), ("flow", "normal + retrofit flow"),
          ("gmm", "normal + ex-post GMM"))


def _cell(stats: dict | None) -> str:
    if not stats or stats.get("mean") is None:
        return "–"
    mean = stats["mean"]
    return f"{mean:.4g}" if abs(mean) < 1000 else f"{mean:.0f}"


def _flow(table: dict) -> str:
    overrides = table.get("protocol", {}).get("config_overrides") or []
    prior = [f"{k.split('.', 1)[1]}={v}" for k, v in overrides if k.startswith("prior.")]
    return ", ".join(prior) or "the default flow of its commit"


def render(tables: dict[str, dict], stamp: str) -> str:
    first = next(iter(tables.values()))
    lines = [stamp, "", "| label | flow settings (prior.*) | commit | seeds |", "|---|---|---|---|"]
    for label, t in tables.items():
        lines.append(f"| {label} | {_flow(t)} | `{str(t.get('commit', '?'))[:7]}` | {t.get('seeds')} |")
    header = "| regularizer | model | n | " + " | ".join(name for _, name in COLUMNS) + " |"
    rule = "|---|---|---|" + "---|" * len(COLUMNS)
    lines += ["", header, rule]
    for reg in first.get("regs", []):
        rows = [(f"dp, {label}", t["aggregates"].get(reg, {}).get("dp")) for label, t in tables.items()]
        rows += [(name, first["aggregates"].get(reg, {}).get(key)) for key, name in SHARED]
        for name, agg in rows:
            n = (agg or {}).get("fd", {}).get("n", 0)
            lines.append(f"| {reg} | {name} | {n} | "
                         + " | ".join(_cell((agg or {}).get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="+", metavar="LABEL=TABLE_DIR")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    tables = {}
    for spec in args.tables:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            parser.error(f"expected LABEL=TABLE_DIR, got {spec!r}")
        file = os.path.join(path, "table1.json")
        try:
            with open(file, encoding="utf-8") as f:
                tables[label] = json.load(f)
        except (OSError, ValueError) as err:
            parser.error(f"cannot read {file!r}: {err}")
    text = render(tables, provenance.stamp())
    provenance.print_table(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
