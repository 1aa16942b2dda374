"""benchmarks/table1_compare.py on hand-written tables: the difference, "within A's SE", the z score
against both SEs, cells only one table has left out, and the pairs' verdicts compared."""

import json
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import provenance  # noqa: E402
import table1_compare  # noqa: E402


def cell(mean, se):
    return {"mean": mean, "se": se, "n": 2, "values": [mean - se, mean + se]}


def write(directory, aggregates, pairs, commit):
    os.makedirs(directory)
    with open(os.path.join(directory, "table1.json"), "w") as f:
        json.dump({"aggregates": aggregates, "pairs": pairs, "commit": commit, "seeds": [0, 1]}, f)
    return str(directory)


def test_cells_and_pairs_are_compared(tmp_path):
    a = write(tmp_path / "a", {"beta": {"dp": {"fd": cell(100.0, 2.0), "nll": cell(160.0, 1.0)},
                                        "normal": {"fd": cell(130.0, 3.0)}}},
              {"beta": {"dp_better": {"fd": True, "nll": False}}}, "aaaaaaa1")
    b = write(tmp_path / "b", {"beta": {"dp": {"fd": cell(101.5, 1.5), "nll": cell(170.0, 1.0)},
                                        "normal": {"precision": cell(0.5, 0.1)}}},
              {"beta": {"dp_better": {"fd": True, "nll": True}}}, "bbbbbbb2")
    rows = table1_compare.compare_cells(provenance.read_table1(a), provenance.read_table1(b),
                                        ["fd", "nll", "precision"])
    assert [(r["prior"], r["metric"]) for r in rows] == [("dp", "fd"), ("dp", "nll")]   # normal: no shared metric
    fd, nll = rows
    assert fd["diff"] == pytest.approx(1.5) and fd["within_se_a"]
    assert fd["z"] == pytest.approx(1.5 / math.hypot(2.0, 1.5))
    assert nll["diff"] == pytest.approx(10.0) and not nll["within_se_a"]
    assert nll["z"] == pytest.approx(10.0 / math.sqrt(2.0))
    text = table1_compare.report(a, b, ["fd", "nll"])
    assert "1 of 2 cells within A's SE; 1 with |z| > 2: beta/dp/nll (+7.1)." in text
    assert "| beta | 2 | nll |" in text
    assert "| beta | dp | fd | 100 ± 2 | 101.5 ± 1.5 | +1.5 | yes | +0.60 |" in text


def test_tables_without_a_shared_cell_or_a_table_are_refused(tmp_path):
    a = write(tmp_path / "a", {"beta": {"dp": {"fd": cell(1.0, 0.1)}}}, {}, "a")
    b = write(tmp_path / "b", {"tc": {"dp": {"fd": cell(1.0, 0.1)}}}, {}, "b")
    with pytest.raises(SystemExit, match="share no"):
        table1_compare.report(a, b, ["fd"])
    with pytest.raises(SystemExit, match="holds no table1.json"):
        provenance.read_table1(str(tmp_path))
