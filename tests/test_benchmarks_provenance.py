"""benchmarks/provenance.py: the stamp above every benchmark table and the one way a table is
printed and written."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import provenance  # noqa: E402


def test_print_table_prints_and_writes_the_same_text_into_a_new_folder(tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "table.md"
    provenance.print_table("| a |\n|---|\n| 1 é |", str(out))
    assert capsys.readouterr().out == "| a |\n|---|\n| 1 é |\n"
    assert out.read_bytes() == "| a |\n|---|\n| 1 é |".encode("utf-8")
    provenance.print_table("| b |", str(out))            # replaces the earlier table whole
    assert out.read_text(encoding="utf-8") == "| b |"
    assert sorted(os.listdir(out.parent)) == ["table.md"]   # no temporary left beside it
    provenance.print_table("| c |", None)                  # no file: printed only
    assert capsys.readouterr().out == "| b |\n| c |\n" and out.read_text(encoding="utf-8") == "| b |"


def test_the_stamp_names_the_command_the_commit_and_the_load():
    line = provenance.stamp([os.path.join(provenance.ROOT, "benchmarks", "x.py"), "--fast"])
    assert line.startswith("`benchmarks/x.py --fast`, ")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC, commit \S+ \(at the start\), 1-minute load "
                     r"average \d+\.\d on \d+ cores$", line)
    assert f"commit {provenance.COMMIT_AT_START} " in line


def test_flat_numbers_names_every_number_by_its_path_and_skips_keys_at_every_depth():
    tree = {"a": 1, "b": {"c": [2.5, {"d": 3}], "seconds": 9, "flag": True, "name": "x"},
            "seconds": 7}
    assert provenance.flat_numbers(tree) == {"a": 1.0, "b.c.0": 2.5, "b.c.1.d": 3.0, "b.seconds": 9.0,
                                             "seconds": 7.0}
    assert provenance.flat_numbers(tree, skip=("seconds",)) == {"a": 1.0, "b.c.0": 2.5, "b.c.1.d": 3.0}
