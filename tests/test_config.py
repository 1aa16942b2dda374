import json

import pytest

from tf_dpvae.config import ConfigError, RunConfig


def test_defaults_round_trip_through_json():
    config = RunConfig()
    assert RunConfig.from_dict(json.loads(config.to_json())) == config


@pytest.mark.parametrize("section, values, fragment", [
    ("objective", {"reg": "vae"}, "reg must be one of none, beta, betab, tc, factor, info; got 'vae'"),
    ("prior", {"kind": "flow"}, "prior must be one of dp, normal; got 'flow'"),
    ("model", {"latent_dim": 0}, "latent-dim must be a positive integer, got 0"),
    ("train", {"batch_size": -5}, "batch-size must be a positive integer, got -5"),
    ("train", {"lr": float("nan")}, "lr must be a finite number > 0.0, got nan"),
    ("objective", {"beta": -1.0}, "beta must be a finite number >= 0.0, got -1.0"),
    ("train", {"steps": -1}, "steps must be a non-negative integer"),
    ("prior", {"num_blocks": 1}, "flow_blocks must be at least 2 (one coupling block leaves half"),
    ("train", {"lr_schedule": "step"}, "lr-schedule must be one of cosine, constant; got 'step'"),
    ("train", {"lr_final_fraction": 1.5}, "lr-final-fraction must be a number in [0, 1], got 1.5"),
    ("train", {"warmup_steps": -1}, "warmup-steps must be a non-negative integer, got -1"),
    ("train", {"clip_norm": -1.0}, "clip-norm must be a finite number >= 0.0, got -1.0"),
    ("train", {"log_every": 0}, "log-every must be a positive integer, got 0"),
])
def test_bad_values_name_the_value_and_what_is_accepted(section, values, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().replace(**{section: values})
    assert fragment in str(err.value)


def test_decoupled_prior_needs_two_latent_dimensions():
    with pytest.raises(ConfigError, match="latent-dim >= 2"):
        RunConfig().replace(model={"latent_dim": 1})
    assert RunConfig().replace(model={"latent_dim": 1}, prior={"kind": "normal"}).model.latent_dim == 1


def test_unknown_keys_are_rejected():
    with pytest.raises(ConfigError, match="unknown keys \\['betta'\\]"):
        RunConfig.from_dict({"objective": {"betta": 3}})
    with pytest.raises(ConfigError, match="unknown configuration sections"):
        RunConfig.from_dict({"optim": {}})


def test_tc_refuses_a_data_set_smaller_than_the_batch():
    """MSS's stratum weight (N − B + 1)/(N·(B − 1)) is negative for N < B − 1: log of it is NaN."""
    with pytest.raises(ConfigError, match="dataset-size N = 50 is below batch-size 100"):
        RunConfig().replace(objective={"reg": "tc", "dataset_size": 50}, train={"batch_size": 100})
    RunConfig().replace(objective={"reg": "tc", "dataset_size": 100}, train={"batch_size": 100})
    # other objectives do not use N
    RunConfig().replace(objective={"reg": "beta", "dataset_size": 50}, train={"batch_size": 100})


@pytest.mark.parametrize("section, values, fragment", [
    ("model", {"latent_dim": 10000}, "latent-dim must be an integer in [1, 1,024], got 10000"),
    ("model", {"hidden_units": 10 ** 6}, "hidden-units must be an integer in [1, 16,384]"),
    ("model", {"conv_filters": 4096}, "conv-filters must be an integer in [1, 1,024]"),
    ("prior", {"hidden_units": 10 ** 6}, "flow_units must be an integer in [1, 16,384]"),
    ("prior", {"num_blocks": 1000}, "flow_blocks must be an integer in [1, 256]"),
    ("data", {"num_examples": 1}, "num-examples must be an integer in [2, 10,000,000]"),
    ("data", {"num_examples": 10 ** 9}, "got 1000000000"),
])
def test_sizes_have_upper_bounds_named_in_the_error(section, values, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().replace(**{section: values})
    assert fragment in str(err.value)


def test_sizes_at_their_bounds_are_accepted():
    RunConfig().replace(model={"latent_dim": 1024}, data={"num_examples": 2})


def test_train_with_a_huge_latent_dim_exits_2_before_anything_is_written(tmp_path, capsys):
    from tf_dpvae.cli import train

    assert train.main(["--latent-dim", "10000", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latent-dim" in err[0] and "10000" in err[0]
    assert not (tmp_path / "run").exists()


def test_post_hoc_record_is_skipped_by_run_config():
    """config.json of a retrofit holds the source's sections plus a post_hoc record: RunConfig reads
    the sections (the model's architecture); PostHocConfig validates the record's settings on its
    own (tests/test_post_hoc_config.py)."""
    from tf_dpvae.config import POST_HOC_KEY
    from tf_dpvae.post_hoc_config import PostHocConfig

    values = {**RunConfig().to_dict(), POST_HOC_KEY: {"settings": PostHocConfig(sampler="gmm").to_dict()}}
    assert RunConfig.from_dict(values) == RunConfig()


@pytest.mark.parametrize("values, fragment", [
    ({"coupling": "nsf"}, "flow_coupling must be one of affine, spline; got 'nsf'"),
    ({"permutation": "shuffle"}, "flow_permutation must be one of alternate, reverse, random, lu; "
                                 "got 'shuffle'"),
    ({"shift_bound": -1.0}, "flow_shift_bound must be a finite number >= 0.0, got -1.0"),
    ({"shift_bound": float("inf")}, "flow_shift_bound must be a finite number >= 0.0, got inf"),
    ({"coupling": "spline", "shift_bound": 1.0}, "flow_shift_bound applies to affine couplings only, "
                                                 "got 1.0 with flow_coupling 'spline'"),
    ({"spline_bins": 1}, "flow_spline_bins must be an integer in [2, 128], got 1"),
    ({"spline_bins": 4.0}, "flow_spline_bins must be an integer in [2, 128], got 4.0"),
    ({"spline_bound": 0.0}, "flow_spline_bound must be a finite number > 0.0, got 0.0"),
])
def test_flow_options_are_validated_in_one_line(values, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().replace(prior=values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_old_config_without_the_flow_options_loads_as_the_defaults(tmp_path):
    """A config.json written before issue 22 lacks the new prior keys: it reads back as the flow
    those runs had (affine coupling, linear shift, alternating halves: ``LEGACY_VALUES``, whatever
    today's defaults), and training's resumption check compares it as that flow."""
    from tf_dpvae.config import LEGACY_VALUES
    from tf_dpvae.training import check_out_dir

    legacy = RunConfig().replace(prior={"coupling": "affine", "shift_bound": 0.0,
                                        "permutation": "alternate"})
    assert LEGACY_VALUES["prior"] == {"coupling": "affine", "shift_bound": 0.0,
                                      "permutation": "alternate"}
    values = legacy.to_dict()
    for key in ("shift_bound", "coupling", "spline_bins", "spline_bound", "permutation"):
        del values["prior"][key]
    assert RunConfig.from_dict(values) == legacy
    (tmp_path / "config.json").write_text(json.dumps(values))
    assert check_out_dir(str(tmp_path), legacy) is True
    with pytest.raises(ConfigError, match=r"prior\.coupling"):
        check_out_dir(str(tmp_path), legacy.replace(prior={"coupling": "spline"}))
    options = RunConfig().replace(prior={"coupling": "spline", "permutation": "random",
                                         "spline_bins": 4, "spline_bound": 3.0})
    assert RunConfig.from_dict(json.loads(options.to_json())) == options


def test_a_normal_prior_run_resumes_whatever_the_flow_settings(tmp_path):
    """A normal-prior model has no flow, so its recorded flow settings do not block resuming it (or a
    table reusing it) under other flow defaults; a dp run's flow settings still do."""
    from tf_dpvae.training import check_out_dir

    normal = RunConfig().replace(prior={"kind": "normal"})
    (tmp_path / "config.json").write_text(normal.to_json())
    other_flow = normal.replace(prior={"coupling": "spline", "permutation": "random"})
    assert check_out_dir(str(tmp_path), other_flow) is True
    with pytest.raises(ConfigError, match=r"prior\.kind"):
        check_out_dir(str(tmp_path), other_flow.replace(prior={"kind": "dp"}))
    dp = tmp_path / "dp"
    dp.mkdir()
    (dp / "config.json").write_text(
        RunConfig().replace(prior={"kind": "dp", "coupling": "affine"}).to_json())
    with pytest.raises(ConfigError, match=r"prior\.coupling"):
        check_out_dir(str(dp), RunConfig().replace(prior={"kind": "dp", "coupling": "spline",
                                                          "shift_bound": 0.0}))


def test_flow_flags_are_generated():
    import argparse

    from tf_dpvae.cli.flags import add_config_flags, config_from_args

    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    config = config_from_args(parser.parse_args(
        ["--flow-coupling", "spline", "--flow-spline-bins", "4", "--flow-spline-bound", "3",
         "--flow-permutation", "lu"]))
    assert (config.prior.coupling, config.prior.spline_bins, config.prior.spline_bound,
            config.prior.permutation) == ("spline", 4, 3.0, "lu")


# ------------------------------------------------------------------ issue 26: finite but unusable
@pytest.mark.parametrize("section, values, fragment", [
    ("train", {"lr": 1e308}, "lr must be a finite number in (0, 10], got 1e+308"),
    ("train", {"epochs": 10 ** 12}, "epochs must be an integer in [1, 1,000,000], got 1000000000000"),
    ("train", {"steps": 2 ** 40}, "steps must be an integer in [0, 2,147,483,647] (0 = no limit)"),
    ("objective", {"beta": 1e300}, "beta must be a finite number in [0, 1e+06], got 1e+300"),
    ("objective", {"disc_lr": 1e5}, "disc-lr must be a finite number in (0, 10], got 100000.0"),
    ("objective", {"disc_beta_2": 1.0}, "disc-beta-2 must be a finite number in [0, 0.999999]"),
    ("model", {"obs_std": 1e-300}, "obs-std must be a finite number in [1e-06, 1e+06], got 1e-300"),
    ("data", {"noise": 1e200}, "noise must be a finite number in [0, 1e+06], got 1e+200"),
])
def test_finite_but_unusable_values_are_refused_naming_the_range(section, values, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().replace(**{section: values})
    assert fragment in str(err.value)


def test_planned_steps_beyond_int32_are_refused_before_anything_is_written():
    from tf_dpvae.training import planned_steps

    train = RunConfig().replace(train={"epochs": 1_000_000, "batch_size": 2}).train
    with pytest.raises(ConfigError, match=r"epochs 1,000,000 × 5,000 steps per epoch is "
                                          r"5,000,000,000 steps"):
        planned_steps(train, 10_000)
