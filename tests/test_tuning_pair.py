"""tuning.pair: the normal-prior winner and the dp model, trained with the same hyperparameters."""

import json

from tf_dpvae import tuning

from conftest import tiny_config


def test_pair_trains_both_priors_with_the_same_hyperparameters(tmp_path):
    best = tiny_config("beta", prior_kind="normal", objective={"beta": 2.5}, train={"steps": 2})
    results = tuning.run_pair(best, str(tmp_path / "pair"), log=lambda *a: None)
    configs = {k: json.loads((tmp_path / "pair" / k / "config.json").read_text()) for k in results}
    assert configs["normal"]["prior"]["kind"] == "normal" and configs["dp"]["prior"]["kind"] == "dp"
    configs["dp"]["prior"]["kind"] = "normal"
    assert configs["dp"] == configs["normal"]        # nothing else differs
    assert all(r.step == 2 and "val_loss" in r.final_logs for r in results.values())
    table = tuning.format_pair(results)
    assert "| normal |" in table and "| dp |" in table
