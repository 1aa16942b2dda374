"""tf_dpvae.experiments.render (and figures): the csv/md/json and figures from fabricated run directories."""

import csv
import dataclasses
import io
import json
import math
import os

import pytest

from tf_dpvae.experiments.figures import write_figures
from tf_dpvae.experiments.render import csv_columns, write_tables
from tf_dpvae.experiments.request import collect
from tf_dpvae.experiments.results import checkpoint_step, trained_step
from tf_dpvae.experiments.statistics import METRICS

from experiments_cases import fake_metrics, small_request, fabricate, _quality, TAUS

def test_tables_and_figures_from_run_directories(tmp_path):
    """Three seeds of VAE/dpVAE, one seed of β-VAE-H only evaluated for the normal prior."""
    request = small_request(tmp_path, seeds=(0, 1, 2))
    sizes = request.protocol.eval_sizes()
    for seed in (0, 1, 2):
        fabricate(request, f"none-normal-seed{seed}",
                  fake_metrics(4, sizes, 10.0 + seed, 20.0 + seed, 2.0, 90.0, [0, 5.0 + seed, 9]),
                  samples_shape=(16, 8, 8, 1))
        fabricate(request, f"none-dp-seed{seed}",
                  fake_metrics(4, sizes, 8.0 + seed, 8.2 + seed, 1.0, 91.0, [0, 1.0, 2]),
                  samples_shape=(16, 8, 8, 1))
    fabricate(request, "beta-normal-seed0", fake_metrics(4, sizes, 5.0, 6.0, 1.0, 80.0, [0, 3, 4]))
    records = collect(request)
    assert records["none-dp-seed0"]["evaluated"] and not records["beta-dp-seed0"]["evaluated"]
    paths = write_tables(request, records, "abc123+dirty", 12.5)
    figures = write_figures(request, records)

    rows = list(csv.DictReader(io.StringIO(open(paths["csv"]).read())))
    assert [(r["regularizer"], r["prior"], r["seeds"]) for r in rows] == [
        ("none", "normal", "3"), ("none", "dp", "3"), ("beta", "normal", "1"), ("beta", "dp", "0")]
    assert list(rows[0]) == csv_columns(METRICS, -4.0)
    assert "leakage_tau-4_mean" in rows[0] and "fd_se" in rows[0]
    assert float(rows[0]["fd_mean"]) == pytest.approx(11.0)
    assert float(rows[0]["fd_se"]) == pytest.approx(1 / math.sqrt(3))
    assert float(rows[0]["leakage_tau-4_mean"]) == pytest.approx(6.0)
    assert rows[2]["fd_mean"] == "5" and rows[2]["fd_se"] == ""  # n = 1: no standard error
    assert rows[3]["fd_mean"] == ""

    md = open(paths["md"]).read()
    assert "abc123+dirty" in md and "LS(τ=-4)" in md and "| dpVAE | 3 | 9 ± 0.58 |" in md
    assert "| β-VAE-H | 1 | 5 | 6 |" in md
    # dp beats its twin on FD, LP-FD, sKL and leakage but not NLL; LP-FD within 5 % of FD
    assert "| VAE | yes | yes | yes | no | yes | yes | yes | yes | yes | yes | no |" in md
    assert "| β-VAE-H | – | – | – | – | – | – | yes | yes | yes | yes | yes |" in md
    assert "137.4" in md and "127.4" in md  # the paper's MNIST numbers beside ours
    # the one loss (IS-NLL) is listed with its numbers; sKL, which dp wins, is not
    assert "| VAE | 90 ± 0 | 91 ± 0 | – | – |" in md and "**sKL.**" not in md
    assert "protocol `reduced`" in md and "4 steps per model" in md

    data = json.loads(open(paths["json"]).read())
    assert data["protocol"]["steps"] == 4 and data["commit"] == "abc123+dirty"
    assert data["models"]["none-dp-seed2"]["values"]["fd"] == 10.0
    assert data["models"]["none-dp-seed2"]["curve"]["tau"] == TAUS
    assert data["aggregates"]["none"]["normal"]["leakage_curve"]["leakage_score"] == [0, 6.0, 9]
    assert data["aggregates"]["none"]["dp"]["fd"]["values"] == [8.0, 9.0, 10.0]
    assert data["wall_seconds"]["train_total_seconds"] == 70.0
    assert data["wall_seconds"]["eval_total_seconds"] == 35.0
    assert data["pairs"]["none"]["dp_better"]["nll"] is False
    assert data["paper_mnist_table1"]["info"]["dp"]["fid"] == 110.1

    names = sorted(os.path.basename(f) for f in figures)
    assert names == ["leakage.png", "samples_none.png"]  # β has no dp model evaluated yet
    for f in figures:
        assert open(f, "rb").read(4) == b"\x89PNG"


def test_post_hoc_rows_beside_each_pair(tmp_path):
    """With post_hoc the rows are normal, dp, + retrofit flow, + ex-post GMM per regularizer; a
    retrofit counts as trained at its source's step; the comparison names the best learned prior.
    Without it (the library's default, the command's --no-post-hoc) the table is the pairs alone."""
    request = dataclasses.replace(small_request(tmp_path, regs=("none",), seeds=(0,)), post_hoc=True)
    assert request.specs() == [("none", p, 0) for p in ("normal", "dp", "flow", "gmm")]
    sizes = request.protocol.eval_sizes()
    for prior, fd in (("normal", 10.0), ("dp", 9.0), ("flow", 8.0), ("gmm", 8.5)):
        fabricate(request, f"none-{prior}-seed0", fake_metrics(4, sizes, fd, fd + 1, fd / 10, 90.0, [0, 1, 2]))
    flow_dir = request.run_dir("none", "flow", 0)
    with open(os.path.join(flow_dir, "checkpoints", "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-3"\n')   # numbered by the source's best step
    with open(os.path.join(flow_dir, "config.json"), "w") as f:
        json.dump({"post_hoc": {"source": {"latest_step": 4}}}, f)
    assert trained_step(flow_dir) == 4 and checkpoint_step(flow_dir) == 3
    records = collect(request)
    assert all(r["evaluated"] for r in records.values())
    paths = write_tables(request, records, "abc", 1.0)
    rows = list(csv.DictReader(io.StringIO(open(paths["csv"]).read())))
    assert [(r["prior"], r["fd_mean"]) for r in rows] == [("normal", "10"), ("dp", "9"), ("flow", "8"),
                                                           ("gmm", "8.5")]
    md = open(paths["md"]).read()
    assert "| VAE + retrofit flow | 1 | 8 |" in md and "| VAE + ex-post GMM | 1 | 8.5 |" in md
    assert "## Joint training or post-hoc fitting?" in md and "| VAE | flow | flow | flow | dp | dp |" in md
    assert "× 4 priors ×" in md
    pairs_only = small_request(tmp_path / "b", regs=("none",), seeds=(0,))
    assert not pairs_only.post_hoc and [p for _, p, _ in pairs_only.specs()] == ["normal", "dp"]


def test_sample_metrics_of_every_embedding_reach_the_tables(tmp_path):
    """Precision, recall, density, coverage of the Fréchet features, the random conv net and pixels:
    read per embedding, in the CSV and the Markdown (with the real-data reference row), and compared
    within each pair with higher = better; the post-hoc comparison picks the highest."""
    request = small_request(tmp_path, regs=("none",), seeds=(0,))
    request.post_hoc = True
    sizes = request.protocol.eval_sizes()
    for prior, (p, d) in {"normal": (0.3, 0.2), "dp": (0.6, 0.7), "flow": (0.5, 0.9),
                          "gmm": (0.7, 0.1)}.items():
        metrics = fake_metrics(4, sizes, 10.0, 11.0, 1.0, 9.0, [0, 1.0, 2])
        metrics["metrics"]["sample_quality_data"] = _quality(p, d)
        metrics["metrics"]["sample_quality_random_conv"] = _quality(p / 10, d / 10, reference=0.7)
        fabricate(request, f"none-{prior}-seed0", metrics)
    records = collect(request)
    values = records["none-dp-seed0"]["values"]
    assert values["precision"] == 0.6 and values["lp_density"] == 0.35
    assert values["rc_precision"] == pytest.approx(0.06) and values["px_precision"] is None
    assert records["none-dp-seed0"]["sample_reference"]["rc_precision"] == 0.7
    paths = write_tables(request, records, "abc", 1.0)
    row = next(csv.DictReader(io.StringIO(open(paths["csv"]).read())))
    assert float(row["precision_mean"]) == 0.3 and float(row["rc_density_mean"]) == pytest.approx(0.02)
    assert row["px_precision_mean"] == ""
    md = open(paths["md"]).read()
    assert "| VAE | 1 | 10 | 11 |" in md and "| 0.3 | 0.5 | 0.2 | 0.4 |" in md   # P R D C at the end
    assert "**On the Fréchet distance's features.**" in md and "**On a random conv net.**" in md
    assert "**On pixels.**" not in md                      # no model has them
    assert "| real data (training vs held-out) | – | 0.8 | 0.9 | 1 | 0.95 |" in md
    assert "| dpVAE | 1 | 0.6 | 0.5 | 0.7 | 0.4 | 0.3 | 0.3 | 0.35 | 0.2 |" in md
    # dp beats its twin on P, D (higher) but not on R, C (equal is not better)
    assert "| VAE | yes | no | yes | no | yes | yes |" in md
    pairs = json.loads(open(paths["json"]).read())["pairs"]["none"]["dp_better"]
    assert pairs["precision"] is True and pairs["recall"] is False and pairs["fd"] is False
    # joint or post hoc: FD ties go to the first (dp); P: GMM highest, D: flow highest
    assert "| VAE | dp | dp | dp | dp | dp | GMM | flow | GMM | flow |" in md
    assert ("| Regularizer | FD | LP-FD | sKL | IS-NLL | LS(τ=-4) | P | D | P (random conv) | "
            "D (random conv) |\n|---|---|---|---|---|---|---|---|---|---|\n| VAE |") in md
