"""Flags generated from the configuration dataclasses: one per field, defaults and choices taken from
the dataclasses and their registries, given flags layered over a --config file."""

import argparse
import dataclasses
import json

import pytest

from tf_dpvae import config as config_lib
from tf_dpvae.cli import flags
from tf_dpvae.cli.parsing import OneLineParser
from tf_dpvae.cli.train import build_parser, config_from_args
from tf_dpvae.config import RunConfig


def all_fields():
    for section in dataclasses.fields(RunConfig):
        for field in dataclasses.fields(section.default_factory):
            yield section.name, field


def actions_by_dest(parser):
    return {a.dest: a for a in parser._actions}


def test_every_field_has_one_flag_whose_default_is_the_dataclass_default():
    parser = build_parser()
    actions = actions_by_dest(parser)
    fields = list(all_fields())
    assert len(fields) == len(list(flags.config_flags()))
    for section, field in fields:
        action = actions[f"{section}.{field.name}"]
        assert parser.get_default(f"{section}.{field.name}") == field.default, (section, field.name)
        assert action.default == field.default
        assert f"(default: {'' if field.default == '' else field.default}" in action.help.replace(
            "''", "")
    # Nothing given: the configuration is exactly the dataclasses' defaults.
    assert config_from_args(parser.parse_args([])) == RunConfig()


def test_flag_names_help_and_groups_come_from_the_metadata():
    by_option = {f.option: f for f in flags.config_flags()}
    assert by_option["flow-blocks"].dest == "prior.num_blocks"
    assert by_option["prior"].dest == "prior.kind"
    assert "coupling blocks K" in by_option["flow-blocks"].help
    assert by_option["beta"].group == "beta: β-VAE-H"
    assert by_option["latent-dim"].group == config_lib.ModelConfig.GROUP
    # the two discriminator betas had no flag while the map was kept by hand
    assert by_option["disc-beta-1"].default == config_lib.ObjectiveConfig().disc_beta_1


def test_a_field_without_metadata_still_gets_a_flag_with_its_default():
    """A field added as ``name: int = 0`` (e.g. ObjectiveConfig.reg_warmup_steps) needs no CLI edit."""

    @dataclasses.dataclass(frozen=True)
    class Section:
        GROUP = "extra"
        reg_warmup_steps: int = 0
        ratio: float = config_lib.flag(0.5, "a ratio ρ")

    @dataclasses.dataclass(frozen=True)
    class Config:
        objective: Section = dataclasses.field(default_factory=Section)

    made = {f.option: f for f in flags.config_flags(Config)}
    assert made["reg-warmup-steps"].dest == "objective.reg_warmup_steps"
    assert (made["reg-warmup-steps"].kind, made["reg-warmup-steps"].default) == (int, 0)
    assert made["reg-warmup-steps"].group == "extra"
    parser = OneLineParser(prog="x")
    flags.add_config_flags(parser, config_cls=Config)
    args = parser.parse_args(["--reg-warmup-steps", "7"])
    assert flags.given_flags(args) == {"objective": {"reg_warmup_steps": 7}}
    assert parser.parse_args([]).__dict__["objective.ratio"] == 0.5


def test_every_choices_tuple_equals_its_registry():
    from tf_dpvae import networks, regularizers

    by_option = {f.option: f for f in flags.config_flags()}
    assert by_option["reg"].choices == tuple(regularizers.REGISTRY) == config_lib.REGULARIZERS
    assert set(by_option["arch"].choices) == {"auto", "mlp", *networks.CONV_ARCHS}
    assert by_option["prior"].choices == config_lib.PRIORS
    for option, registry in [("likelihood", config_lib.LIKELIHOODS),
                             ("tc-estimator", config_lib.TC_ESTIMATORS),
                             ("mmd-kernel", config_lib.MMD_KERNELS),
                             ("lr-schedule", config_lib.LR_SCHEDULES),
                             ("strategy", config_lib.STRATEGIES),
                             ("mixed-precision", config_lib.MIXED_PRECISION)]:
        assert by_option[option].choices == registry
    # and what argparse enforces is exactly that tuple
    actions = actions_by_dest(build_parser())
    for f in flags.config_flags():
        assert actions[f.dest].choices == f.choices


def test_command_choices_equal_their_registries():
    from tf_dpvae import tuning
    from tf_dpvae.experiments.protocol import PROTOCOLS
    from tf_dpvae.cli import evaluate, export, main, reproduce, tune

    tune_actions = {a.dest: a for a in tune.build_parser()._actions}
    assert tuple(tune_actions["tuner"].choices) == tuple(tuning.TUNERS)
    assert tuple(tune_actions["objective"].choices) == tuple(tuning.OBJECTIVES)
    for module in (evaluate, export):
        checkpoint = {a.dest: a for a in module.build_parser()._actions}["checkpoint"]
        assert tuple(checkpoint.choices) == config_lib.CHECKPOINT_CHOICES
    table = reproduce.build_parser()._subparsers._group_actions[0].choices["table1"]
    protocol = {a.dest: a for a in table._actions}["protocol"]
    assert tuple(protocol.choices) == tuple(sorted(PROTOCOLS))
    assert set(main.COMMANDS) == {"train", "evaluate", "export", "tune", "features", "reproduce",
                                  "retrofit"}


def test_given_flags_override_the_config_file_and_defaults_do_not(tmp_path):
    path = tmp_path / "base.json"
    path.write_text(RunConfig().replace(objective={"beta": 2.0}, train={"epochs": 3}).to_json())
    parser = build_parser()
    # --epochs given with the dataclass default still overrides the file's 3
    default = RunConfig().train.epochs
    assert default != 3
    config = config_from_args(parser.parse_args(["--config", str(path), "--epochs", str(default)]))
    assert (config.objective.beta, config.train.epochs) == (2.0, default)
    config = config_from_args(parser.parse_args(["--config", str(path)]))
    assert (config.objective.beta, config.train.epochs) == (2.0, 3)


def test_boolean_fields_take_a_yes_and_a_no_flag(tmp_path):
    parser = build_parser()
    assert config_from_args(parser.parse_args(["--jit"])).train.jit is True
    path = tmp_path / "jit.json"
    path.write_text(json.dumps({"train": {"jit": True}}))
    assert config_from_args(parser.parse_args(["--config", str(path), "--no-jit"])).train.jit is False


@pytest.mark.parametrize("argv, fragment", [
    (["--flow-blocks", "x"], "argument --flow-blocks: invalid int value: 'x'"),
    (["--mmd-kernel", "gauss"], "argument --mmd-kernel: invalid choice: 'gauss'"),
])
def test_bad_flag_values_are_one_line_exit_2(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def settings_commands():
    """(settings dataclass, the parser holding its flags) of every command with flat settings."""
    from tf_dpvae.cli import evaluate, features, reproduce
    from tf_dpvae.evaluation.settings import EvalSettings, FeatureSettings

    table1_parser = reproduce.build_parser()._subparsers._group_actions[0].choices["table1"]
    return [(EvalSettings, evaluate.build_parser()), (FeatureSettings, features.build_parser()),
            (reproduce.Table1Settings, table1_parser)]


def test_settings_commands_have_one_flag_per_field_with_the_dataclass_default():
    for settings_cls, parser in settings_commands():
        actions = actions_by_dest(parser)
        for field in dataclasses.fields(settings_cls):
            action = actions[field.name]
            assert parser.get_default(field.name) == field.default, (settings_cls, field.name)
            assert action.default == field.default
            shown = field.default is not None and field.default is not False  # not for switches
            if action.help is not argparse.SUPPRESS and shown:
                assert "(default: " in action.help, (settings_cls, field.name)
        flags_made = list(flags.settings_flags(settings_cls))
        assert [f.field for f in flags_made] == [f.name for f in dataclasses.fields(settings_cls)]


def test_settings_parsed_with_no_flags_are_the_dataclass_defaults(tmp_path):
    from tf_dpvae.cli import evaluate, features, reproduce
    from tf_dpvae.evaluation.settings import EvalSettings, FeatureSettings

    args = evaluate.build_parser().parse_args([str(tmp_path)])
    assert EvalSettings(**flags.settings_values(EvalSettings, args)) == EvalSettings()
    args = features.build_parser().parse_args(["--dataset", "fashion_mnist"])
    assert FeatureSettings(**flags.settings_values(FeatureSettings, args)) == FeatureSettings(
        dataset="fashion_mnist")
    args = reproduce.build_parser().parse_args(["table1"])
    assert (reproduce.Table1Settings(**flags.settings_values(reproduce.Table1Settings, args))
            == reproduce.Table1Settings())


def test_settings_flags_keep_their_names_and_parse_as_before(tmp_path):
    from tf_dpvae.cli import evaluate, features, reproduce
    from tf_dpvae.evaluation.settings import EvalSettings

    args = evaluate.build_parser().parse_args(
        [str(tmp_path), "--num-samples", "7", "--lp-pool", "2", "--skl-samples", "9",
         "--is-samples", "3", "--nll-examples", "4", "--taus=-50,-10", "--seed", "5",
         "--disentanglement", "mig", "sap", "--disentanglement-train", "11",
         "--disentanglement-test", "12", "--checkpoint", "latest", "--classifier", "c",
         "--inception-weights", "w.pb"])
    settings = EvalSettings(**flags.settings_values(EvalSettings, args))
    assert settings == EvalSettings(
        num_samples=7, lp_pool=2, skl_samples=9, is_samples=3, nll_examples=4, taus=(-50.0, -10.0),
        seed=5, disentanglement=("mig", "sap"), disentanglement_train=11, disentanglement_test=12,
        checkpoint="latest", classifier_dir="c", inception_weights="w.pb")
    args = features.build_parser().parse_args(["--npz", "a.npz", "--data-dir", "d", "--out", "o",
                                               "--epochs", "2", "--batch-size", "3", "--seed", "4"])
    assert (args.npz, args.dataset, args.data_dir, args.out, args.epochs, args.batch_size,
            args.seed) == ("a.npz", None, "d", "o", 2, 3, 4)
    args = reproduce.build_parser().parse_args(
        ["table1", "--seeds", "3", "--regs", "none", "beta", "--protocol", "paper", "--steps", "4",
         "--no-progress", "--num-samples", "8", "--classifier-epochs", "1"])
    request = reproduce.request_from_args(args)
    assert (request.seeds, request.regs, request.protocol.steps, request.protocol.num_samples,
            request.protocol.classifier_epochs, args.no_progress) == ((3,), ("none", "beta"), 4, 8,
                                                                       1, True)
    assert request.overrides == {"steps": 4, "num_samples": 8, "classifier_epochs": 1}


@pytest.mark.parametrize("command, argv, fragment", [
    ("evaluate", ["run", "--num-samples", "0"], "argument --num-samples: expected a positive integer"),
    ("evaluate", ["run", "--taus", "a"], "argument --taus: expected comma-separated numbers"),
    ("evaluate", ["run", "--disentanglement", "beta_vae"], "argument --disentanglement: invalid choice"),
    ("features", ["--dataset", "a", "--npz", "b"], "not allowed with argument"),
    ("features", ["--epochs", "2"], "one of the arguments --dataset --npz is required"),
    ("reproduce", ["table1", "--seeds", "-1"], "argument --seeds: expected an integer in [0, 2**31)"),
    ("reproduce", ["table1", "--regs", "bogus"], "argument --regs: invalid choice"),
])
def test_settings_flags_refuse_bad_values_in_one_line(capsys, command, argv, fragment):
    import importlib

    module = importlib.import_module(f"tf_dpvae.cli.{command}")
    with pytest.raises(SystemExit) as exc:
        module.build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_settings_choices_equal_their_registries():
    from tf_dpvae.cli import reproduce
    from tf_dpvae.experiments.protocol import PROTOCOLS
    from tf_dpvae.evaluation import disentanglement
    from tf_dpvae.evaluation.settings import EvalSettings

    by_field = {f.field: f for f in flags.settings_flags(EvalSettings)}
    assert by_field["checkpoint"].choices == config_lib.CHECKPOINT_CHOICES
    assert by_field["disentanglement"].choices == disentanglement.METRICS
    by_field = {f.field: f for f in flags.settings_flags(reproduce.Table1Settings)}
    assert by_field["regs"].choices == config_lib.REGULARIZERS
    assert by_field["protocol"].choices == tuple(sorted(PROTOCOLS))
    assert reproduce.Table1Settings().regs == config_lib.REGULARIZERS
    for settings_cls, parser in settings_commands():
        actions = actions_by_dest(parser)
        for f in flags.settings_flags(settings_cls):
            assert actions[f.field].choices == f.choices
