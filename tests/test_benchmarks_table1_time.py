"""benchmarks/table1_time.py on hand-written table directories: sums by row kind, the classifier's
training counted only when the last invocation trained it, the last invocation's wall from the log's
stamps, the goal, the CSV comparison and the load range."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import table1_time  # noqa: E402


def write_table(directory, rows, log_lines, csv=b"a,b\n1,2\n"):
    os.makedirs(directory, exist_ok=True)
    models = {f"r{i}": {"prior": prior, "wall_seconds": {"train_seconds": t, "eval_seconds": e}}
              for i, (prior, t, e) in enumerate(rows)}
    with open(os.path.join(directory, "table1.json"), "w") as f:
        json.dump({"commit": "0123456789abcdef", "models": models}, f)
    with open(os.path.join(directory, "reproduce.log"), "w") as f:
        f.write("\n".join(log_lines) + "\n")
    with open(os.path.join(directory, "table1.csv"), "wb") as f:
        f.write(csv)
    return str(directory)


LOG_FRESH = ["2026-12-05T00:10:00 table1: protocol reduced, out x",
             "2026-12-05T00:10:00 feature classifier: training it for fashion_mnist (4 epochs) into x",
             "2026-12-05T00:13:45 feature classifier: test accuracy 0.9110 (225 s)",
             "2026-12-05T00:55:00 [48/48] done"]
LOG_RESUMED = ["2026-11-25T07:25:20 table1: protocol reduced, out y",
               "2026-11-25T07:35:43 feature classifier: test accuracy 0.9173 (624 s)",
               "2026-12-04T10:00:00 table1: protocol reduced, out y",
               "2026-12-04T10:00:01 feature classifier: y/features (cached; test accuracy 0.9173)",
               "2026-12-04T11:30:00 [48/48] done"]


def test_summarize_sums_each_kind_of_row():
    table = {"models": {"a": {"prior": "normal", "wall_seconds": {"train_seconds": 60, "eval_seconds": 30}},
                        "b": {"prior": "dp", "wall_seconds": {"train_seconds": 90, "eval_seconds": 20}},
                        "c": {"prior": "gmm", "wall_seconds": {"train_seconds": 6, "eval_seconds": 25}},
                        "d": {"prior": "flow", "wall_seconds": {"train_seconds": 15, "eval_seconds": 40}}}}
    s = table1_time.summarize(table)
    assert (s["rows"], s["rows_trained"], s["rows_post_hoc"]) == (4, 2, 2)
    assert (s["train_trained"], s["eval_trained"], s["train_post_hoc"], s["eval_post_hoc"]) == (150, 50, 21, 65)
    assert (s["eval_median"], s["eval_max"]) == (27.5, 40)


def test_the_classifier_and_the_wall_come_from_the_last_invocation():
    assert table1_time.classifier_seconds("\n".join(LOG_FRESH)) == 225.0
    assert table1_time.classifier_seconds("\n".join(LOG_RESUMED)) is None   # cached in the last one
    assert table1_time.last_invocation_seconds("\n".join(LOG_FRESH)) == 45 * 60
    assert table1_time.last_invocation_seconds("\n".join(LOG_RESUMED)) == 90 * 60
    assert table1_time.last_invocation_seconds("") is None


def test_report_totals_goal_and_csv(tmp_path):
    rows = [("normal", 600, 300), ("dp", 900, 300), ("gmm", 60, 300), ("flow", 120, 300)]
    fresh = write_table(tmp_path / "fresh", rows, LOG_FRESH)
    same = write_table(tmp_path / "same", rows, LOG_RESUMED)
    other = write_table(tmp_path / "other", rows[:2], LOG_RESUMED, csv=b"a,b\n1,3\n")
    load = tmp_path / "load.log"
    load.write_text("00:10:00 1.10 1.00 0.90\n00:11:00 2.30 1.20 1.00\n00:12:00 1.50 1.30 1.00\n")
    text = table1_time.report([fresh, same, other], goal_minutes=60, load_log=str(load))
    line = {d: next(x for x in text.splitlines() if x.startswith(f"| {d} ")) for d in (fresh, same, other)}
    # fresh: 225 s classifier + 1,680 s training + 1,200 s evaluation = 3,105 s = 51.75 min
    assert ("| 4 (2 + 2) | 3.8 | 25.0 | 3.0 | 10.0 | 10.0 | 300.0 | 300.0 | 51.8 | 45.0 | met (≤ 60 min) | yes |"
            in line[fresh])
    assert "| - | 25.0 | 3.0 | 10.0 | 10.0 | 300.0 | 300.0 | 48.0 | 90.0 | met (≤ 60 min) | yes |" in line[same]
    assert line[other].endswith("| no |") and "| 2 (2 + 0) |" in line[other]
    assert "missed" in table1_time.report([fresh], goal_minutes=50)
    assert "1.1–2.3, median 1.5" in text


def test_a_directory_without_a_table_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="holds no table1.json"):
        table1_time.report([str(tmp_path)], goal_minutes=60)
