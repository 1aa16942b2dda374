"""The ``tune`` command: its default objective, bad input (one line, exit 2, no trial started), and a
search whose every trial failed (exit 1)."""

import pytest

from tf_dpvae import tuning
from tf_dpvae.cli import tune

from conftest import exit_code
from tuning_cases import SPACE


def test_the_default_objective_is_the_validation_negative_elbo():
    """val_loss holds the tuned weights (a smaller β scores better); R + KL on held-out data does
    not (issue 24)."""
    assert tune.build_parser().parse_args([]).objective == "val_nelbo"


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
