"""python -m tf_dpvae.evaluate --disentanglement: the metrics of evaluation.disentanglement computed for a
run whose data have ground-truth factors, into metrics.json and TensorBoard; refused (exit 2, nothing
written) for data without factors."""

import json
import os

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tf_dpvae import training
from tf_dpvae.cli import evaluate

SMALL = ["--num-samples", "40", "--lp-pool", "2", "--skl-samples", "60", "--is-samples", "8",
         "--nll-examples", "8", "--taus=-20,-5,-2"]


@pytest.fixture(scope="module")
def dsprites_run(tmp_path_factory):
    from conftest import tiny_config

    out = tmp_path_factory.mktemp("dsprites")
    config = tiny_config("factor", "dp", data={"dataset": "dsprites_procedural", "image_size": 32},
                         model={"likelihood": "bernoulli", "conv_filters": 8, "conv_units": 32},
                         train={"steps": 4, "epochs": 1})
    training.fit(config, str(out), verbose=0, log=lambda *_: None)
    return out


def test_metrics_json_and_tensorboard_hold_the_scores(dsprites_run, capsys):
    assert evaluate.main([str(dsprites_run), *SMALL, "--disentanglement", "mig", "sap",
                          "--disentanglement-train", "300", "--disentanglement-test", "200"]) == 0
    metrics = json.loads((dsprites_run / "eval" / "metrics.json").read_text())["metrics"]
    scores = metrics["disentanglement"]
    assert 0.0 <= scores["mig"] <= 1.0 and 0.0 <= scores["sap"] <= 1.0
    assert scores["settings"]["num_train"] == 300 and scores["settings"]["num_test"] == 200
    assert set(scores["details"]) == {"mig", "sap"} and "factor_vae_score" not in scores
    assert len(scores["details"]["mig"]["mig_per_factor"]) == 5  # shape, scale, orientation, x, y
    events = EventAccumulator(str(dsprites_run / "logs" / "run" / "eval"))
    events.Reload()
    assert {"disentanglement/mig", "disentanglement/sap"} <= set(events.Tags()["tensors"])


def test_data_without_factors_exit_2_and_write_nothing(tmp_path, capsys):
    from conftest import tiny_config

    out = tmp_path / "moons"
    training.fit(tiny_config("none", "dp"), str(out), verbose=0, log=lambda *_: None)
    code = evaluate.main([str(out), *SMALL, "--disentanglement", "mig"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "has no ground-truth factors" in err[-1] and "dsprites_procedural" in err[-1]
    assert not os.path.exists(out / "eval" / "metrics.json")
    with pytest.raises(SystemExit) as exc:  # argparse: not a metric, or a size <= 0
        evaluate.main([str(out), "--disentanglement", "beta_vae"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        evaluate.main([str(out), "--disentanglement", "mig", "--disentanglement-train", "0"])
    assert exc.value.code == 2
