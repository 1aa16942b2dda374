"""Hyperparameter search: a 2-trial search end to end, resume, the best config through ``train
--config``, HParams data, and bad input (one line, exit 2, no trial started)."""

import json
import os

import pytest
from tensorboard.backend.event_processing import event_accumulator

from tf_dpvae import tuning
from tf_dpvae.cli import train, tune
from tf_dpvae.config import ConfigError

from conftest import tiny_config

# Two hyperparameters, one of each kind, so the search is tiny but exercises Float and Choice.
SPACE = ["--only-given", "--range", "beta=0.5:5:log", "--values", "flow_units=8,16"]


@pytest.fixture
def base_file(tmp_path):
    path = tmp_path / "base.json"
    # steps=0: every trial runs its full (1) epoch of 10 steps, as train will with the same file
    path.write_text(tiny_config("beta", train={"steps": 0}).replace(prior={"num_blocks": 2}).to_json())
    return str(path)


def exit_code(main, argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def tags(directory, plugin=None):
    """Scalar/tensor tags in the event files of ``directory`` (not its subdirectories)."""
    acc = event_accumulator.EventAccumulator(directory, size_guidance={"tensors": 0})
    acc.Reload()
    if plugin:
        return set(acc.PluginTagToContent(plugin))
    return set(acc.Tags()["tensors"])


def test_the_default_objective_is_the_validation_negative_elbo():
    """val_loss holds the tuned weights (a smaller β scores better); R + KL on held-out data does
    not (issue 24)."""
    assert tune.build_parser().parse_args([]).objective == "val_nelbo"


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


@pytest.mark.parametrize("argv, fragment", [
    (["--tuner", "grid"], "argument --tuner: invalid choice: 'grid'"),
    (["--objective", "fid"], "argument --objective: invalid choice: 'fid'"),
    (["--range", "beta=5:1"], "search-space entry 'beta': inverted range, min 5.0 > max 1.0"),
    (["--range", "lr=0.01:0.01"], "search-space entry 'lr': empty range, min = max = 0.01"),
    (["--values", "latent_dim="], "--values 'latent_dim=' must look like NAME=V1,V2"),
    (["--range", "gamma=1:2"], "unknown search-space entry 'gamma'; accepted: beta,"),
    (["--range", "factor_gamma=1:20"], "search-space entry 'factor_gamma' is a weight of --reg "
                                        "factor, not of --reg beta (its weights: beta)"),
    (["--range", "beta=-1:2"], "search-space entry 'beta': value -1.0 is not accepted "
                               "(beta must be a finite number >= 0.0"),
    (["--values", "latent_dim=1,2"], "search-space entry 'latent_dim': value 1 is not accepted "
                                     "(the decoupled prior couples latent dimensions"),
    (["--range", "lr=0:0.1:log"], "search-space entry 'lr': a log range needs min > 0"),
    (["--max-trials", "0"], "max-trials must be a positive integer, got 0"),
    (["--tuner", "hyperband", "--epochs", "1"], "the hyperband tuner needs --epochs >= 2"),
    (["--pair", "--prior", "dp"], "--pair tunes the normal-prior model"),
])
def test_bad_input_is_one_line_exit_2_no_trial(tmp_path, base_file, capsys, argv, fragment):
    out = tmp_path / "search"
    code = exit_code(tune.main, ["--config", base_file, "--reg", "beta", "--out", str(out), *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("text, fragment", [
    ('{"beta": {"min": 1, "max": 3}', "does not parse as JSON: Expecting ',' delimiter at line 1"),
    ('[1, 2]', "must hold a JSON object of entries"),
    ('{"beta": {"values": []}}', "search-space entry 'beta': values must be a non-empty list"),
    ('{"beta": {"min": 1, "max": 3, "scale": 2}}', "search-space entry 'beta': unknown keys ['scale']"),
    ('{"latent_dim": {"min": 2.5, "max": 4}}', "search-space entry 'latent_dim': min must be an "
                                               "integer, got 2.5"),
])
def test_bad_space_file(tmp_path, base_file, capsys, text, fragment):
    space = tmp_path / "space.json"
    space.write_text(text)
    out = tmp_path / "search"
    assert tune.main(["--config", base_file, "--reg", "beta", "--space", str(space),
                      "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_frechet_objectives_need_the_evaluation_module(tmp_path, base_file, capsys, monkeypatch):
    import sys

    import tf_dpvae
    from tf_dpvae.tuning import frechet_objectives as objectives

    # a build whose Fréchet objectives module lacks the objective
    for name, function in (("fd", "frechet_distance_objective"), ("lp_fd", "low_posterior_fd_objective")):
        with monkeypatch.context() as m:
            m.delattr(objectives, function)
            assert tune.main(["--config", base_file, "--objective", name,
                              "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert f"objective {name!r} needs tf_dpvae.tuning.frechet_objectives.{function}, which this build" in err
    # a build without the evaluation module at all
    monkeypatch.setitem(sys.modules, "tf_dpvae.evaluation", None)  # import fails
    monkeypatch.delattr(tf_dpvae, "evaluation")
    for name in ("fd", "lp_fd"):
        assert tune.main(["--config", base_file, "--objective", name,
                          "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert f"objective {name!r} needs tf_dpvae.evaluation (not installed in this build)" in err
    assert not (tmp_path / "s").exists()


def test_rerun_with_other_settings_is_refused(tmp_path, base_file, capsys):
    out = tmp_path / "search"
    # recorded: a search whose base differs from base_file's in the flow (4 blocks), the steps and
    # the space
    settings = tuning.make_settings(tiny_config("beta", prior={"num_blocks": 4}), "random", "val_nelbo", 2,
                                    {"beta": {"min": 1, "max": 2}}, use_defaults=False)
    out.mkdir()
    (out / "search.json").write_text(json.dumps(settings.identity()))
    code = tune.main(["--config", base_file, "--reg", "beta", "--out", str(out), *SPACE])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds a search with different settings (base.prior, base.train, space.beta, " \
           "space.flow_units)" in err


def test_default_space_follows_objective_and_prior():
    assert set(tuning.default_space("tc", "dp")) == {"tc_alpha", "tc_beta", "tc_gamma", "latent_dim",
                                                     "flow_blocks", "flow_units", "lr"}
    assert set(tuning.default_space("factor", "normal")) == {"factor_gamma", "latent_dim", "lr"}
    assert set(tuning.default_space("none", "dp")) == {"latent_dim", "flow_blocks", "flow_units",
                                                       "lr"}
    # A fixed value goes into the base configuration, not into the search.
    space, base = tuning.make_space(tiny_config("info"), {"info_lambda": 50, "lr": [1e-3, 1e-2]},
                                    use_defaults=False)
    assert space.names == ["lr"] and base.objective.info_lambda == 50
    with pytest.raises(ConfigError, match="every entry is fixed"):
        tuning.make_space(tiny_config("info"), {"info_lambda": 50}, use_defaults=False)


@pytest.mark.parametrize("text, fragment", [
    ('{"model": {"latent_dim": 3', "does not parse as JSON"),
    ('{"model": {"latent": 3}}', "unknown keys ['latent'] in section 'model'"),
    ('{"modle": {}}', "unknown configuration sections ['modle']"),
    ('{"model": 3}', "section 'model' must be a JSON object"),
])
def test_train_config_file_errors(tmp_path, capsys, text, fragment):
    path = tmp_path / "c.json"
    path.write_text(text)
    out = tmp_path / "run"
    assert train.main(["--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_val_nelbo_is_recon_plus_kl_in_the_logs():
    logs = {"recon": 3.0, "kl": 0.5, "loss": 9.0, "val_recon": 2.0, "val_kl": 0.25, "val_loss": 7.0}
    tuning.DerivedMetrics().on_epoch_end(0, logs)
    assert logs["nelbo"] == 3.5 and logs["val_nelbo"] == 2.25 and logs["val_loss"] == 7.0
    assert tuning.get_objective("val_nelbo").direction == "min"


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


def test_frechet_objectives_score_a_two_trial_moons_search(tmp_path, base_file):
    """--objective fd end to end: every trial scored after training, the best is the lowest (lp_fd
    goes through the same hook; its value is checked against a closed form below)."""
    import math

    for name in ("fd",):
        out = tmp_path / name
        assert tune.main(["--config", base_file, "--reg", "beta", "--tuner", "random", "--max-trials",
                          "2", "--objective", name, "--out", str(out), "--no-progress", *SPACE]) == 0
        records = [json.loads(p.read_text()) for p in (out / "trials").iterdir()]
        scores = [r["final"][name] for r in records]
        assert len(scores) == 2 and all(math.isfinite(v) and v > 0 for v in scores)
        assert scores[0] != scores[1]
        winner = min(records, key=lambda r: r["final"][name])
        best = json.loads((out / "best_config.json").read_text())
        assert best["objective"]["beta"] == pytest.approx(winner["values"]["beta"])


class _StubPrior:
    def sample(self, n, seed):
        import tensorflow as tf
        z = tf.random.stateless_normal([n, 2], seed)
        return z, z


class _StubModel:
    """Decoder = identity, prior N(0, I) in 2-D, encoder q(z|x) = N(x, 0.01 I): closed-form checks."""
    prior = _StubPrior()

    def decode_mean(self, z):
        return z

    def encode(self, x):
        import numpy as np
        return np.asarray(x, np.float32), np.full(np.shape(x), np.log(0.01), np.float32)


def test_frechet_objectives_against_closed_forms(tmp_path, monkeypatch):
    import numpy as np

    from tf_dpvae.data import Splits
    from tf_dpvae.tuning import frechet_objectives as objectives
    from tf_dpvae.tuning.frechet_objectives import frechet_distance_objective, low_posterior_fd_objective

    rng = np.random.default_rng(0)
    # held-out ~ N((3, 0), I), samples ~ N(0, I): d² = ‖(3, 0)‖² = 9 up to sampling error
    held_out = (rng.standard_normal((4000, 2)) + [3.0, 0.0]).astype(np.float32)
    # training encodings only on the left half-plane: the lowest-q(z) prior samples lie to the right
    train = rng.standard_normal((2000, 2)).astype(np.float32)
    train[:, 0] = -np.abs(train[:, 0])
    splits = Splits(train, held_out, "stub")
    config = tiny_config("beta")
    fd = frechet_distance_objective(_StubModel(), splits, config)
    assert fd == pytest.approx(9.0, abs=0.6)
    lp_fd = low_posterior_fd_objective(_StubModel(), splits, config, num_samples=500)
    # LP samples (right half-plane, mean x > 0) are closer to the held-out mean at x = 3
    assert lp_fd < fd - 2.0
    with pytest.raises(ValueError, match="num_samples"):
        frechet_distance_objective(_StubModel(), splits, config, num_samples=1)

    # images without a cached classifier: a clear error before any trial (a ConfigError: exit 2)
    monkeypatch.chdir(tmp_path)
    images = Splits(np.zeros((4, 8, 8, 1), np.float32), np.zeros((4, 8, 8, 1), np.float32), "img")
    with pytest.raises(ConfigError, match="python -m tf_dpvae.features --dataset fashion_mnist"):
        objectives.check(images, tiny_config("beta", data={"dataset": "fashion_mnist"}))


@pytest.mark.parametrize("max_trials", [2, 4])   # 4: past keras-tuner's limit of 3 failures in a row
def test_search_whose_every_trial_failed_exits_1_and_ranks_no_failed_trial(
        tmp_path, base_file, capsys, monkeypatch, max_trials):
    import keras_tuner as kt

    def fail(self, hp, model, *args, trial_id="", **kwargs):
        raise kt.errors.FailedTrialError(f"trial {trial_id}: the loss became non-finite (step 1)")

    monkeypatch.setattr(tuning.DPVAEHyperModel, "fit", fail)
    out = tmp_path / "search"
    argv = ["--config", base_file, "--reg", "beta", "--tuner", "random", "--max-trials",
            str(max_trials), "--out", str(out), "--no-progress", *SPACE]
    assert tune.main(argv) == 1
    captured = capsys.readouterr()
    # (keras-tuner itself prints each failed trial's traceback; the command's verdict is the last line)
    assert "no trial completed" in captured.err.strip().splitlines()[-1]
    assert not (out / "best_config.json").exists()
    table = (out / "trials.md").read_text()
    assert " * |" not in table and "failed" in table
