"""tf_dpvae.experiments.results: reading metrics.json (both leakage key spellings), the
evaluation state, the checkpoint step."""

import dataclasses
import os

import pytest

from tf_dpvae.experiments.protocol import REDUCED
from tf_dpvae.experiments.results import SAMPLES_FILE, checkpoint_step, evaluation_state, extract_values

from experiments_cases import fake_metrics, small_request, fabricate, TAUS

def test_extract_values_prefers_eq6_literal_and_reads_tau_minus_4():
    sizes = REDUCED.eval_sizes()
    m = fake_metrics(4, sizes, 2.0, 3.0, 0.5, 80.0, [0.0, 1.5, 9.0])
    v = extract_values(m)
    assert v["values"]["fd"] == 2.0 and v["values"]["lp_fd"] == 3.0
    assert v["values"]["lp_fd_ratio"] == pytest.approx(1.5)
    assert v["values"]["leakage"] == 1.5 and v["curve"]["variant"] == "eq6"
    assert v["values"]["neg_elbo"] == 82.0 and "fid" not in v["values"]
    # the renamed variants: eq6_literal is the headline, the others are ignored for the cell
    m["metrics"]["leakage"] = {"eq6_literal": {"tau": TAUS, "leakage_score": [0, 7.0, 8]},
                               "base_density": {"tau": TAUS, "leakage_score": [0, 99.0, 8]},
                               "full_density": {"tau": TAUS, "leakage_score": [0, 98.0, 8]}}
    v = extract_values(m)
    assert v["values"]["leakage"] == 7.0 and v["curve"]["variant"] == "eq6_literal"
    m["metrics"]["leakage"]["eq6_literal"]["leakage_score"][1] = None  # NaN is written as null
    assert extract_values(m)["values"]["leakage"] is None
    m["metrics"]["fid"] = {"random": 40.0, "low_posterior": 44.0}
    assert extract_values(m)["values"]["lp_fid"] == 44.0
    assert extract_values(m, tau=-2.5)["values"]["leakage"] is None  # τ not on the grid


def test_evaluation_state_says_why(tmp_path):
    request = small_request(tmp_path)
    sizes = request.protocol.eval_sizes()
    run_dir = os.path.join(request.runs_root, "none-dp-seed0")
    assert evaluation_state(run_dir, request.protocol, False) == (False, "not evaluated yet")
    fabricate(request, "none-dp-seed0", fake_metrics(4, sizes, 1, 1, 1, 1, [0, 0, 0]))
    assert evaluation_state(run_dir, request.protocol, False)[0]
    assert "true FID requested" in evaluation_state(run_dir, request.protocol, True)[1]
    other = dataclasses.replace(request.protocol, steps=8)
    assert "step 4" in evaluation_state(run_dir, other, False)[1]
    os.makedirs(os.path.join(run_dir, "checkpoints", "best"))  # a best checkpoint exists, but the
    assert "evaluates the best" in evaluation_state(  # metrics came from the latest one
        run_dir, request.protocol, False)[1]
    os.rmdir(os.path.join(run_dir, "checkpoints", "best"))
    other = request.protocol.replace(is_samples=17)
    assert "is_samples" in evaluation_state(run_dir, other, False)[1]
    os.remove(os.path.join(run_dir, "eval", SAMPLES_FILE))
    assert "samples.npz" in evaluation_state(run_dir, request.protocol, False)[1]


def test_checkpoint_step_reads_the_state_file(tmp_path):
    assert checkpoint_step(str(tmp_path)) == 0
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-1500"\nall_model_checkpoint_paths: "ckpt-1000"\n')
    assert checkpoint_step(str(tmp_path)) == 1500


def test_sample_metrics_are_part_of_an_evaluation_that_counts(tmp_path):
    """An evaluation made before the sample metrics (no nearest_k in its settings) is redone."""
    request = small_request(tmp_path, regs=("none",), seeds=(0,))
    sizes = request.protocol.eval_sizes()
    assert sizes["nearest_k"] == 5
    old = {k: v for k, v in sizes.items() if k != "nearest_k"}
    run_dir = fabricate(request, "none-normal-seed0", fake_metrics(4, old, 1.0, 1.0, 1.0, 1.0, [0, 0, 0]))
    assert evaluation_state(run_dir, request.protocol, False) == (
        False, "evaluated with other sizes (nearest_k)")
