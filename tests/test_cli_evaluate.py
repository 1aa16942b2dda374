"""python -m tf_dpvae.evaluate end to end on tiny runs, the checkpoint restore, and bad input."""

import json
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tf_dpvae import training
from tf_dpvae.cli import evaluate
from tf_dpvae.evaluation import run
from tf_dpvae.evaluation import settings as eval_settings
from tf_dpvae.model import build_model, make_checkpoint

SMALL = ["--num-samples", "40", "--lp-pool", "2", "--skl-samples", "60", "--is-samples", "16",
         "--nll-examples", "8", "--taus=-20,-5,-2"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from conftest import tiny_config

    out = tmp_path_factory.mktemp("run")
    config = tiny_config("factor", "dp", train={"steps": 0, "epochs": 1})
    training.fit(config, str(out), verbose=0, log=lambda *_: None)
    return out, config


def test_restore_loads_every_trained_weight(trained_run):
    """restore_run gives the weights that training's own resume path gives (model, optimizers, rng),
    and they are not the initial weights."""
    out, config = trained_run
    restored = run.restore_run(str(out), "latest")  # the checkpoint with the optimizers' state
    # the optimizer as training built it: its learning-rate schedule has no variable of its own
    reference = build_model(config, (None, 2), total_steps=training.planned_steps(config.train, 200))
    reference.build_optimizers()
    make_checkpoint(reference).restore(restored.checkpoint).assert_existing_objects_matched()
    for a, b in zip(restored.model.vae_variables, reference.vae_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert restored.step == 200 // 20
    fresh = build_model(config, (None, 2))
    assert any(not np.allclose(a.numpy(), b.numpy())
               for a, b in zip(restored.model.vae_variables, fresh.vae_variables))


def test_evaluate_writes_metrics_figures_and_tensorboard(trained_run, capsys):
    out, _ = trained_run
    assert evaluate.main([str(out), *SMALL, "--seed", "3"]) == 0
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    m = metrics["metrics"]
    assert set(m) == {"frechet_distance_data", "symmetric_kl", "nll", "leakage", "sample_quality_data",
                      "sample_quality_latent"}
    latent = m["sample_quality_latent"]   # in z: the sKL's prior samples against its q(z) samples
    assert latent["generated"] == latent["q_samples"] == 60 and 0.0 <= latent["precision"] <= 1.0
    quality = m["sample_quality_data"]   # on the data themselves, as the Fréchet distance
    assert quality["nearest_k"] == 5 and quality["generated"] == 40
    for key in ("precision", "recall", "density", "coverage", "lp_precision", "lp_coverage"):
        assert 0.0 <= quality[key] <= (40 / 5 if "density" in key else 1.0), key
    assert 0.0 <= quality["train_vs_held_out"]["precision"] <= 1.0
    assert m["nll"]["negative_elbo"] >= m["nll"]["importance_sampled"]
    assert m["nll"]["examples"] == 8 and m["nll"]["is_samples"] == 16
    assert m["frechet_distance_data"]["lp_pool"] == 80 and m["frechet_distance_data"]["generated"] == 40
    assert m["leakage"]["eq6_literal"]["tau"] == [-20.0, -5.0, -2.0]
    assert m["leakage"]["headline"] == "eq6_literal" and not m["leakage"]["variants_coincide"]
    assert {"eq6_literal", "base_density", "full_density"} <= set(m["leakage"]) and set(
        m["leakage"]["variants"]) == {"eq6_literal", "base_density", "full_density"}
    assert np.isfinite(m["symmetric_kl"]["skl"])
    assert metrics["settings"]["seed"] == 3 and metrics["timings_seconds"]["total"] > 0
    for name in ("samples", "leakage", "posterior_map", "traversals", "paths"):
        assert (out / "eval" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    # TensorBoard, under the HParams session's run (logs/run/eval): the leakage curves as one table
    # (every variant, a row per τ) and one figure, not a scalar per τ; FD beside the sample metrics
    acc = EventAccumulator(str(out / "logs" / "run" / "eval"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"symmetric_kl/skl", "nll/importance_sampled", "frechet_distance_data/low_posterior",
            "samples", "posterior_map", "leakage", "evaluation/leakage", "evaluation/sample_quality",
            "sample_quality_data/precision", "sample_quality_data/lp_density"} <= tags
    assert not any("tau_" in tag for tag in tags)

    def text(tag):
        return acc.Tensors(tag)[-1].tensor_proto.string_val[0].decode()

    leak_rows = [line for line in text("evaluation/leakage").splitlines()
                 if line.startswith(("| -20 |", "| -5 |", "| -2 |"))]
    assert len(leak_rows) == 3 and "LS eq6_literal (headline)" in text("evaluation/leakage")
    fd = m["frechet_distance_data"]["random"]
    random_row = next(line for line in text("evaluation/sample_quality").splitlines()
                      if line.startswith("| data | random |"))
    assert random_row.split("|")[3].strip() == f"{fd:.4g}"
    # HParams (TensorBoard's own code): the run's one session now has evaluate's metrics too
    from test_summaries import tensorboard_sessions

    (hparams, session_metrics), = tensorboard_sessions(out / "logs")[0].values()
    assert hparams["reg"] == "factor"
    assert session_metrics["symmetric_kl/skl"] == pytest.approx(m["symmetric_kl"]["skl"], rel=1e-6)
    assert {"sample_quality_data/recall", "frechet_distance_data/low_posterior",
            "best/val_nelbo"} <= set(session_metrics)
    assert "symmetric KL" in capsys.readouterr().out


def test_same_seed_same_numbers(trained_run):
    """evaluate_run with the CLI's settings reproduces the metrics.json the CLI wrote (run after it)."""
    out, _ = trained_run
    written = json.loads((out / "eval" / "metrics.json").read_text())
    settings = run.EvalSettings(**{**written["settings"], "taus": tuple(written["settings"]["taus"])})
    again = run.evaluate_run(str(out), settings, log=lambda *_: None)["metrics"]["metrics"]
    assert again["symmetric_kl"]["skl"] == written["metrics"]["symmetric_kl"]["skl"]
    assert again["nll"]["importance_sampled"] == written["metrics"]["nll"]["importance_sampled"]
    assert again["frechet_distance_data"] == written["metrics"]["frechet_distance_data"]


def exit_code_and_error(argv, capsys):
    code = evaluate.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_bad_input_exits_2_with_one_line_and_writes_nothing(trained_run, tmp_path, capsys):
    out, config = trained_run
    sentinel = out / "eval" / "metrics.json"
    sentinel.parent.mkdir(exist_ok=True)
    sentinel.write_text("earlier evaluation")
    before = sorted(os.listdir(out / "eval"))

    with pytest.raises(SystemExit) as exc:
        evaluate.main([str(out), "--num-samples", "0"])
    assert exc.value.code == 2
    code, err = exit_code_and_error([str(tmp_path / "missing")], capsys)
    assert code == 2 and "not a run directory" in err
    code, err = exit_code_and_error([str(out), "--inception-weights", str(tmp_path / "none.h5")], capsys)
    assert code == 2 and "not a file" in err
    weights = tmp_path / "w.h5"
    weights.write_text("not weights")
    code, err = exit_code_and_error([str(out), *SMALL, "--inception-weights", str(weights)], capsys)
    assert code == 2 and "inception-weights" in err

    no_checkpoint = tmp_path / "fresh"
    no_checkpoint.mkdir()
    (no_checkpoint / "config.json").write_text(config.to_json())
    code, err = exit_code_and_error([str(no_checkpoint)], capsys)
    assert code == 2 and "no checkpoint" in err
    assert not (no_checkpoint / "eval").exists()

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    code, err = exit_code_and_error([str(broken)], capsys)
    assert code == 2 and "not a valid run configuration" in err

    other = tmp_path / "other"    # a checkpoint of a different architecture
    other.mkdir()
    (other / "config.json").write_text(config.replace(model={"hidden_units": 8}).to_json())
    os.symlink(out / "checkpoints", other / "checkpoints")
    code, err = exit_code_and_error([str(other), *SMALL], capsys)
    assert code == 2 and "does not fit the model" in err

    assert sentinel.read_text() == "earlier evaluation"
    assert sorted(os.listdir(out / "eval")) == before


@pytest.mark.parametrize("flag, value, fragment", [
    ("--num-samples", "1000000000", "num-samples must be at most 10,000,000, got 1,000,000,000"),
    ("--is-samples", "100000000", "is-samples must be at most 1,000,000"),
    ("--lp-pool", "5000", "lp-pool must be at most 1,000"),
])
def test_evaluation_sizes_have_upper_bounds(trained_run, capsys, flag, value, fragment):
    out, _ = trained_run
    before = sorted(os.listdir(out))
    code, err = exit_code_and_error([str(out), *SMALL, flag, value], capsys)
    assert code == 2 and fragment in err
    assert sorted(os.listdir(out)) == before


def test_evaluation_larger_than_memory_is_refused_before_computing(trained_run, capsys, monkeypatch):
    out, _ = trained_run
    settings = run.EvalSettings(num_samples=10_000, lp_pool=5)
    need = eval_settings.memory_estimate(settings, (28, 28, 1), 10)
    eval_settings.check_memory(settings, (28, 28, 1), 10, available=2 * need)   # fits
    with pytest.raises(run.EvaluationError, match="lower --num-samples or --lp-pool"):
        eval_settings.check_memory(settings, (28, 28, 1), 10, available=need)
    monkeypatch.setattr(eval_settings, "physical_memory", lambda: 1000)   # a 1 kB machine
    before = sorted(os.listdir(out))
    code, err = exit_code_and_error([str(out), *SMALL], capsys)
    assert code == 2 and "GiB" in err and "--num-samples" in err
    assert sorted(os.listdir(out)) == before


def test_summary_reports_the_inception_distance_under_its_own_name():
    """The classifier's distance stays the headline Fréchet line whatever the key order; the
    Inception distance gets its own line, as "fid" only for TF-FID's network."""
    fd = {"random": 1.0, "low_posterior": 2.0, "train_vs_held_out": 0.5}
    rest = {"symmetric_kl": {"skl": 1.0, "skl_se": 0.1, "kl_pq": 0.4, "kl_qp": 0.6},
            "nll": {"is_samples": 4, "importance_sampled": 9.0, "negative_elbo": 10.0},
            "leakage": {"eq6_literal": {"tau": [-2.0], "leakage_score": [0.1]}}}
    for key in ("fid", "frechet_distance_keras_inception"):
        lines = evaluate.summary({"metrics": {key: {**fd, "random": 30.0},
                                              "frechet_distance_classifier": fd, **rest},
                                  "timings_seconds": {"total": 1.0}}).splitlines()
        assert lines[0].startswith("frechet_distance_classifier: random 1,")
        assert lines[1] == f"{key}: random 30, low-posterior 2 (train vs held-out 0.5)"
