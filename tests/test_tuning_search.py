"""tuning.search: a 2-trial search end to end (table, trial records, best config, HParams), its
resumption, and the best config through ``train --config``."""

import json
import os

import pytest

from tf_dpvae.cli import train, tune

from tuning_cases import SPACE, tags


def test_search_resume_and_best_config_round_trip(tmp_path, base_file, capsys):
    out = tmp_path / "search"
    argv = ["--config", base_file, "--reg", "beta", "--tuner", "random", "--max-trials", "2",
            "--out", str(out), "--objective", "val_loss", "--no-progress", *SPACE]
    assert tune.main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 new trial(s)" in printed

    # The table: printed and saved, one row per trial, the best marked.
    table = (out / "trials.md").read_text()
    assert table.strip() in printed
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert len(rows) == 2 and sum(" * |" in r for r in rows) == 1
    assert "beta" in table.splitlines()[0] and "flow_units" in table.splitlines()[0]
    csv_lines = (out / "trials.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 3

    records = {name: json.loads((out / "trials" / name).read_text())
               for name in os.listdir(out / "trials")}
    assert len(records) == 2
    # Different trials really tried different values, all with the base seed.
    assert len({json.dumps(r["values"], sort_keys=True) for r in records.values()}) == 2
    assert {r["seed"] for r in records.values()} == {0}

    # The best config is the winning trial's values written into the base configuration.
    best = json.loads((out / "best_config.json").read_text())
    scores = {r["trial_id"]: r["final"]["val_loss"] for r in records.values()}
    winner = min(scores, key=scores.get)
    assert best["objective"]["beta"] == pytest.approx(records[f"{winner}.json"]["values"]["beta"])
    assert best["prior"]["hidden_units"] == records[f"{winner}.json"]["values"]["flow_units"]
    assert best["model"]["hidden_units"] == 16 and best["prior"]["num_blocks"] == 2

    # HParams: the experiment at the root, each trial's hparams and final metrics in its run.
    logs = out / "logs"
    assert "_hparams_/experiment" in tags(str(logs), "hparams")
    for trial_id in scores:
        run = str(logs / f"trial_{trial_id}")
        assert "_hparams_/session_start_info" in tags(run, "hparams")
        assert {"final/val_loss", "final/val_nelbo"} <= tags(run)
        assert os.path.isdir(os.path.join(run, "validation"))

    # A rerun resumes: no trial is repeated, the records are untouched.
    stamps = {n: os.path.getmtime(out / "trials" / n) for n in records}
    assert tune.main(argv) == 0
    printed = capsys.readouterr().out
    assert "0 new trial(s)" in printed and "2 in all" in printed
    assert {n: os.path.getmtime(out / "trials" / n) for n in records} == stamps
    assert len(os.listdir(out / "trials")) == 2

    # train --config retrains the winner: same seed and epochs, hence the same numbers.
    run = tmp_path / "retrain"
    assert train.main(["--config", str(out / "best_config.json"), "--out", str(run), "--no-export"]) == 0
    saved = json.loads((run / "config.json").read_text())
    example = saved.pop("example")   # recorded by training
    assert (example["shape"], example["dtype"]) == ([2], "float32") and "standardization" in example
    assert saved == best
    printed = capsys.readouterr().out
    retrained = float(printed.split("val_loss=")[1].split(",")[0])
    assert retrained == pytest.approx(scores[winner], rel=1e-3)

    # A flag overrides the file.
    args = train.build_parser().parse_args(["--config", str(out / "best_config.json"),
                                            "--lr", "0.0005"])
    overridden = train.config_from_args(args).to_dict()
    assert overridden["train"]["lr"] == 0.0005
    assert overridden["objective"]["beta"] == best["objective"]["beta"]
