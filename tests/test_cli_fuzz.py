"""A table of hostile command lines, over every command: each must exit with status 2, print exactly one
line on stderr (no traceback), and write nothing.

Each case runs the command's ``main(argv)`` in-process (argparse's exit is caught as a status) in a fresh
directory that is also the working directory, so that a default output (``runs/``, ``saved_models/``,
``results/``) would land there too. "Nothing written" compares every path and every file's bytes under
it before and after. Run directories in the table are built the way training leaves them (a
``config.json``, the ``.lock`` file every run has), with damaged parts where the case says so. A few
cases run as subprocesses, for the environment (``TF_CONFIG``) and the process's own stderr.

Argument tokens ``@NAME`` and ``@NAME/REST`` stand for paths in the case's directory (see ``world``).
Run alone: ``python -m pytest -q -n 0 tests/test_cli_fuzz.py``.
"""

import importlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny_config

from tf_dpvae.cli import main as cli_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = {"shape": [2], "dtype": "float32"}
# a directory no process can create anything under, root included (it is not a real directory)
UNCREATABLE = "/proc/tf_dpvae_cannot/out"

# every command of the dispatcher (tf_dpvae.cli.<command>), and the dispatcher itself
MODULES = {**{command: f"tf_dpvae.cli.{command}" for command in cli_main.COMMANDS},
           "tf-dpvae": "tf_dpvae.cli.main"}


def run_config(prior="dp", dataset=None):
    record = tiny_config("none", prior).to_dict()
    if dataset:
        record["data"]["dataset"] = dataset
    record["example"] = EXAMPLE
    return json.dumps(record, indent=2)


def make_run(directory, config_bytes, checkpoints=()):
    """A run directory as training leaves it: config.json, the (empty) lock file, checkpoints/."""
    directory.mkdir()
    (directory / "config.json").write_bytes(config_bytes)
    (directory / ".lock").write_bytes(b"")
    for name, payload in checkpoints:
        (directory / "checkpoints" / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / "checkpoints" / name).write_bytes(payload)


@pytest.fixture(scope="module")
def checkpoint_files():
    """The files of a real checkpoint (``ckpt-3``, weights of the tiny model of ``run_config``) and of
    its state file, made once: {name: bytes}."""
    import tempfile

    from tf_dpvae.model import build_model, make_checkpoint

    model = build_model(tiny_config("none", "dp"), (None, 2))
    with tempfile.TemporaryDirectory() as directory:
        make_checkpoint(model, with_optimizers=False).write(os.path.join(directory, "ckpt-3"))
        files = {name: open(os.path.join(directory, name), "rb").read()
                 for name in os.listdir(directory)}
    return {**files, "checkpoint": b'model_checkpoint_path: "ckpt-3"\n'}


def world(root, checkpoint_files):
    """The files and run directories the cases point at (``@NAME``)."""
    good = run_config().encode()
    (root / "file").write_text("keep me")
    (root / "binary").write_bytes(bytes(range(256)) * 4)
    (root / "empty.json").write_text("")
    (root / "list.json").write_text("[1, 2]")
    (root / "garbage.json").write_text("{not json")
    (root / "sections.json").write_text('{"train": 5}')
    (root / "unknown.json").write_text('{"nosuch": {}}')
    (root / "badkey.json").write_text('{"train": {"nosuch": 1}}')
    (root / "badvalue.json").write_text('{"train": {"batch_size": -3}}')
    (root / "badtype.json").write_text('{"train": {"batch_size": "many"}}')
    (root / "space_list.json").write_text('[["lr", 1]]')
    (root / "space_bad.json").write_text('{"lr": {"min": "a", "max": 2}}')
    (root / "space_unknown.json").write_text('{"nosuch": [1, 2]}')
    (root / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    np.savez(root / "wrong.npz", a=np.zeros(3), b=np.ones(3))
    np.savez(root / "mismatch.npz", x_train=np.zeros((5, 4, 4)), y_train=np.zeros(3, np.int64),
             x_test=np.zeros((2, 4, 4)), y_test=np.zeros(2, np.int64))
    (root / "dir").mkdir()
    make_run(root / "fresh", good)                                # a run with no checkpoint yet
    make_run(root / "truncated", good[: len(good) // 2])          # config.json cut by a crash
    make_run(root / "zeroed", b"")
    make_run(root / "binconf", bytes(range(256)))
    make_run(root / "listconf", b"[]")
    make_run(root / "sectionconf", b'{"train": 5}')
    make_run(root / "valueconf", json.dumps({"train": {"batch_size": -3}}).encode())
    make_run(root / "typeconf", json.dumps({"model": {"latent_dim": "two"}}).encode())
    make_run(root / "damaged", good, [("ckpt-3.index", b"garbage"),
                                      ("ckpt-3.data-00000-of-00001", b"\x00" * 64),
                                      ("checkpoint", b'model_checkpoint_path: "ckpt-3"\n')])
    make_run(root / "nodata", good, [("ckpt-3.index", b"x" * 100), ("checkpoint", b"{{{")])
    make_run(root / "orphan", good, [("ckpt-7.data-00000-of-00001", b"\x01" * 10)])  # no .index
    make_run(root / "good", good, sorted(checkpoint_files.items()))   # a trained run, 3 steps
    make_run(root / "badbest", good, sorted(checkpoint_files.items())
             + [("best/ckpt-3.index", b"garbage"), ("best/ckpt-3.data-00000-of-00001", b"")])
    # trained on arrays passed in Python (issue 24): nothing to reload for evaluate or retrofit
    make_run(root / "arrays", run_config(dataset="arrays:mine").encode(), sorted(checkpoint_files.items()))
    make_run(root / "arrays_normal", run_config("normal", "arrays:mine").encode(),
             sorted(checkpoint_files.items()))
    make_run(root / "normal_fresh", run_config("normal").encode())   # no checkpoint yet
    (root / "other").mkdir()
    (root / "other" / "config.json").write_text(json.dumps(
        {**json.loads(good), "objective": {**json.loads(good)["objective"], "reg": "beta"}}))


SMALL = ["--num-examples", "200", "--batch-size", "20", "--steps", "1", "--hidden-units", "8",
         "--flow-units", "8", "--flow-blocks", "2"]
TF_CONFIGS = {
    "tf_config_empty": "",
    "tf_config_not_json": "{not json",
    "tf_config_list": '["a"]',
    "tf_config_no_workers": '{"cluster": {}, "task": {"type": "worker", "index": 0}}',
    "tf_config_bad_address": '{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", '
                             '"index": 0}}',
    "tf_config_bad_index": '{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": '
                           '"worker", "index": 3}}',
    "tf_config_bad_type": '{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "chief", '
                          '"index": 0}}',
    "tf_config_port": '{"cluster": {"worker": ["127.0.0.1:99999"]}, "task": {"type": "worker", '
                      '"index": 0}}',
}

# id -> (command, argv, environment)
CASES = {
    # ---------------------------------------------------------------------------------------- train
    "train_batch_not_int": ("train", ["--batch-size", "abc"], {}),
    "train_batch_float": ("train", ["--batch-size", "1.5"], {}),
    "train_batch_zero": ("train", ["--batch-size", "0"], {}),
    "train_batch_negative": ("train", ["--batch-size", "-5"], {}),
    "train_batch_huge": ("train", ["--batch-size", str(2 ** 40)], {}),
    "train_batch_over_data": ("train", [*SMALL, "--batch-size", "300"], {}),
    "train_one_example": ("train", [*SMALL, "--num-examples", "1", "--batch-size", "1"], {}),
    "train_zero_examples": ("train", ["--num-examples", "0"], {}),
    "train_lr_text": ("train", ["--lr", "fast"], {}),
    "train_lr_nan": ("train", ["--lr", "nan"], {}),
    "train_lr_inf": ("train", ["--lr", "inf"], {}),
    "train_lr_negative": ("train", ["--lr", "-0.1"], {}),
    "train_lr_zero": ("train", ["--lr", "0"], {}),
    "train_epochs_zero": ("train", ["--epochs", "0"], {}),
    "train_epochs_negative": ("train", ["--epochs", "-1"], {}),
    "train_steps_negative": ("train", ["--steps", "-1"], {}),
    "train_seed_negative": ("train", ["--seed", "-1"], {}),
    "train_seed_too_big": ("train", ["--seed", str(2 ** 31)], {}),
    "train_latent_zero": ("train", ["--latent-dim", "0"], {}),
    "train_latent_huge": ("train", ["--latent-dim", "10000"], {}),
    "train_hidden_huge": ("train", ["--hidden-units", str(10 ** 9)], {}),
    "train_hidden_layers_zero": ("train", ["--hidden-layers", "0"], {}),
    "train_flow_blocks_huge": ("train", ["--flow-blocks", "100000"], {}),
    "train_flow_coupling_unknown": ("train", ["--flow-coupling", "nsf"], {}),
    "train_flow_spline_bins_one": ("train", ["--flow-coupling", "spline", "--flow-spline-bins", "1"], {}),
    "train_flow_spline_bound_inf": ("train", ["--flow-coupling", "spline", "--flow-spline-bound", "inf"],
                                    {}),
    "train_flow_shift_bound_on_spline": ("train", ["--flow-coupling", "spline", "--flow-shift-bound", "1"],
                                         {}),
    "train_flow_permutation_unknown": ("train", ["--flow-permutation", "shuffle"], {}),
    "train_beta_nan": ("train", ["--reg", "beta", "--beta", "nan"], {}),
    "train_beta_negative": ("train", ["--reg", "beta", "--beta", "-1"], {}),
    "train_clip_negative": ("train", ["--clip-norm", "-1"], {}),
    "train_obs_std_zero": ("train", ["--likelihood", "gaussian", "--obs-std", "0"], {}),
    "train_noise_negative": ("train", ["--noise", "-1"], {}),
    "train_log_every_zero": ("train", ["--log-every", "0"], {}),
    "train_lr_final_fraction": ("train", ["--lr-final-fraction", "2"], {}),
    "train_reg_unknown": ("train", ["--reg", "dip"], {}),
    "train_prior_unknown": ("train", ["--prior", "flowy"], {}),
    "train_dataset_unknown": ("train", [*SMALL, "--dataset", "no_such_data"], {}),
    "train_dataset_missing_npz": ("train", [*SMALL, "--dataset", "npz:@nothing.npz"], {}),
    "train_dataset_garbage_npz": ("train", [*SMALL, "--dataset", "npz:@garbage.npz"], {}),
    "train_mixed_precision_unknown": ("train", ["--mixed-precision", "int8"], {}),
    "train_strategy_unknown": ("train", ["--strategy", "ring"], {}),
    "train_devices_missing": ("train", [*SMALL, "--devices", "/gpu:7"], {}),
    "train_devices_garbage": ("train", [*SMALL, "--devices", "toaster"], {}),
    "train_devices_empty_entry": ("train", ["--devices", "/cpu:0,,/cpu:1"], {}),
    "train_devices_twice": ("train", ["--devices", "/cpu:0,/cpu:0"], {}),
    "train_unknown_flag": ("train", ["--frobnicate"], {}),
    "train_positional": ("train", ["extra"], {}),
    "train_config_missing": ("train", ["--config", "@nothing.json"], {}),
    "train_config_directory": ("train", ["--config", "@dir"], {}),
    "train_config_binary": ("train", ["--config", "@binary"], {}),
    "train_config_empty": ("train", ["--config", "@empty.json"], {}),
    "train_config_list": ("train", ["--config", "@list.json"], {}),
    "train_config_garbage": ("train", ["--config", "@garbage.json"], {}),
    "train_config_section_not_object": ("train", ["--config", "@sections.json"], {}),
    "train_config_unknown_section": ("train", ["--config", "@unknown.json"], {}),
    "train_config_unknown_key": ("train", ["--config", "@badkey.json"], {}),
    "train_config_bad_value": ("train", ["--config", "@badvalue.json"], {}),
    "train_config_bad_type": ("train", ["--config", "@badtype.json"], {}),
    "train_out_empty": ("train", ["--out", ""], {}),
    "train_out_file": ("train", ["--out", "@file"], {}),
    "train_out_under_file": ("train", ["--out", "@file/run"], {}),
    "train_out_uncreatable": ("train", ["--out", UNCREATABLE], {}),
    "train_out_other_settings": ("train", [*SMALL, "--out", "@other"], {}),
    "train_resume_truncated_config": ("train", [*SMALL, "--out", "@truncated"], {}),
    "train_resume_empty_config": ("train", [*SMALL, "--out", "@zeroed"], {}),
    "train_resume_binary_config": ("train", [*SMALL, "--out", "@binconf"], {}),
    "train_resume_list_config": ("train", [*SMALL, "--out", "@listconf"], {}),
    "train_resume_sections_config": ("train", [*SMALL, "--out", "@sectionconf"], {}),
    "train_resume_no_intact_checkpoint": ("train", ["--config", "@damaged/config.json",
                                                    "--no-export", "--out", "@damaged"], {}),
    "train_resume_other_settings": ("train", [*SMALL, "--out", "@good"], {}),
    **{f"train_{name}": ("train", [*SMALL, "--strategy", "multiworker", "--out", "@mw"],
                         {"TF_CONFIG": value}) for name, value in TF_CONFIGS.items()},
    # ------------------------------------------------------------------------------------- evaluate
    "evaluate_no_run": ("evaluate", [], {}),
    "evaluate_missing_dir": ("evaluate", ["@nothing"], {}),
    "evaluate_file": ("evaluate", ["@file"], {}),
    "evaluate_not_a_run": ("evaluate", ["@dir"], {}),
    "evaluate_truncated_config": ("evaluate", ["@truncated"], {}),
    "evaluate_empty_config": ("evaluate", ["@zeroed"], {}),
    "evaluate_binary_config": ("evaluate", ["@binconf"], {}),
    "evaluate_list_config": ("evaluate", ["@listconf"], {}),
    "evaluate_sections_config": ("evaluate", ["@sectionconf"], {}),
    "evaluate_bad_value_config": ("evaluate", ["@valueconf"], {}),
    "evaluate_bad_type_config": ("evaluate", ["@typeconf"], {}),
    "evaluate_no_checkpoint": ("evaluate", ["@fresh"], {}),
    "evaluate_no_intact_checkpoint": ("evaluate", ["@damaged"], {}),
    "evaluate_only_a_data_file": ("evaluate", ["@orphan", "--checkpoint", "latest"], {}),
    "evaluate_num_samples_zero": ("evaluate", ["@fresh", "--num-samples", "0"], {}),
    "evaluate_num_samples_text": ("evaluate", ["@fresh", "--num-samples", "many"], {}),
    "evaluate_num_samples_negative": ("evaluate", ["@fresh", "--num-samples", "-10"], {}),
    "evaluate_num_samples_huge": ("evaluate", ["@fresh", "--num-samples", str(10 ** 9)], {}),
    "evaluate_sizes_beyond_memory": ("evaluate", ["@good", "--num-samples", str(10 ** 7),
                                                  "--lp-pool", "1000"], {}),
    "evaluate_damaged_best": ("evaluate", ["@badbest"], {}),
    "evaluate_disentanglement_without_factors": ("evaluate", ["@good", "--disentanglement",
                                                              "mig"], {}),
    "evaluate_lp_pool_zero": ("evaluate", ["@fresh", "--lp-pool", "0"], {}),
    "evaluate_skl_samples_float": ("evaluate", ["@fresh", "--skl-samples", "2.5"], {}),
    "evaluate_is_samples_text": ("evaluate", ["@fresh", "--is-samples", "x"], {}),
    "evaluate_nll_examples_zero": ("evaluate", ["@fresh", "--nll-examples", "0"], {}),
    "evaluate_taus_text": ("evaluate", ["@fresh", "--taus=a,b"], {}),
    "evaluate_taus_empty_entry": ("evaluate", ["@fresh", "--taus=-1,,-2"], {}),
    "evaluate_seed_negative": ("evaluate", ["@fresh", "--seed", "-1"], {}),
    "evaluate_seed_huge": ("evaluate", ["@fresh", "--seed", str(2 ** 40)], {}),
    "evaluate_checkpoint_unknown": ("evaluate", ["@fresh", "--checkpoint", "first"], {}),
    "evaluate_disentanglement_unknown": ("evaluate", ["@fresh", "--disentanglement", "beauty"], {}),
    "evaluate_disentanglement_train_zero": ("evaluate", ["@fresh", "--disentanglement-train",
                                                         "0"], {}),
    "evaluate_inception_missing": ("evaluate", ["@fresh", "--inception-weights", "@nothing.h5"],
                                   {}),
    "evaluate_inception_directory": ("evaluate", ["@fresh", "--inception-weights", "@dir"], {}),
    "evaluate_unknown_flag": ("evaluate", ["@fresh", "--fast"], {}),
    # --------------------------------------------------------------------------------------- export
    "export_no_run": ("export", [], {}),
    "export_missing_dir": ("export", ["@nothing"], {}),
    "export_file": ("export", ["@file"], {}),
    "export_not_a_run": ("export", ["@dir"], {}),
    "export_truncated_config": ("export", ["@truncated"], {}),
    "export_empty_config": ("export", ["@zeroed"], {}),
    "export_binary_config": ("export", ["@binconf"], {}),
    "export_list_config": ("export", ["@listconf"], {}),
    "export_sections_config": ("export", ["@sectionconf"], {}),
    "export_bad_value_config": ("export", ["@valueconf"], {}),
    "export_bad_type_config": ("export", ["@typeconf"], {}),
    "export_no_checkpoint": ("export", ["@fresh"], {}),
    "export_no_intact_checkpoint": ("export", ["@damaged", "--checkpoint", "latest"], {}),
    "export_damaged_state_and_index": ("export", ["@nodata"], {}),
    "export_max_samples_zero": ("export", ["@fresh", "--max-samples", "0"], {}),
    "export_max_samples_negative": ("export", ["@fresh", "--max-samples", "-1"], {}),
    "export_max_samples_text": ("export", ["@fresh", "--max-samples", "lots"], {}),
    "export_max_samples_float": ("export", ["@fresh", "--max-samples", "1.5"], {}),
    "export_max_samples_beyond_int32": ("export", ["@fresh", "--max-samples", str(2 ** 40)], {}),
    "export_out_empty": ("export", ["@fresh", "--out", ""], {}),
    "export_out_file": ("export", ["@fresh", "--out", "@file"], {}),
    "export_out_under_file": ("export", ["@fresh", "--out", "@file/models"], {}),
    "export_out_uncreatable": ("export", ["@good", "--out", UNCREATABLE], {}),
    "export_damaged_best": ("export", ["@badbest"], {}),
    "export_checkpoint_unknown": ("export", ["@fresh", "--checkpoint", "oldest"], {}),
    "export_two_runs": ("export", ["@fresh", "@fresh"], {}),
    # ----------------------------------------------------------------------------------------- tune
    "tune_max_trials_zero": ("tune", ["--max-trials", "0"], {}),
    "tune_max_trials_text": ("tune", ["--max-trials", "ten"], {}),
    "tune_max_trials_negative": ("tune", ["--max-trials", "-2"], {}),
    "tune_tuner_unknown": ("tune", ["--tuner", "grid"], {}),
    "tune_objective_unknown": ("tune", ["--objective", "beauty"], {}),
    "tune_hyperband_one_epoch": ("tune", ["--tuner", "hyperband", "--epochs", "1"], {}),
    "tune_verbose_removed": ("tune", ["--verbose", "5"], {}),   # --no-progress replaced it (issue 24)
    "tune_space_missing": ("tune", ["--space", "@nothing.json"], {}),
    "tune_space_garbage": ("tune", ["--space", "@garbage.json"], {}),
    "tune_space_binary": ("tune", ["--space", "@binary"], {}),
    "tune_space_list": ("tune", ["--space", "@space_list.json"], {}),
    "tune_space_bad_bounds": ("tune", ["--space", "@space_bad.json"], {}),
    "tune_space_unknown_name": ("tune", ["--space", "@space_unknown.json"], {}),
    "tune_range_no_equals": ("tune", ["--range", "lr"], {}),
    "tune_range_text": ("tune", ["--range", "lr=a:b"], {}),
    "tune_range_reversed": ("tune", ["--range", "lr=1:0"], {}),
    "tune_range_unknown": ("tune", ["--range", "nosuch=1:2"], {}),
    "tune_range_log_nonpositive": ("tune", ["--range", "lr=0:1:log"], {}),
    "tune_values_empty": ("tune", ["--values", "latent_dim="], {}),
    "tune_values_text": ("tune", ["--values", "latent_dim=a,b"], {}),
    "tune_pair_with_dp": ("tune", ["--pair", "--prior", "dp"], {}),
    "tune_config_missing": ("tune", ["--config", "@nothing.json"], {}),
    "tune_config_list": ("tune", ["--config", "@list.json"], {}),
    "tune_out_empty": ("tune", ["--out", ""], {}),
    "tune_out_file": ("tune", ["--out", "@file"], {}),
    "tune_out_not_a_search": ("tune", ["--out", "@fresh"], {}),
    "tune_batch_zero": ("tune", ["--batch-size", "0"], {}),
    "tune_epochs_text": ("tune", ["--epochs", "some"], {}),
    # ------------------------------------------------------------------------------------- features
    "features_no_source": ("features", [], {}),
    "features_both_sources": ("features", ["--dataset", "moons", "--npz", "@wrong.npz"], {}),
    "features_npz_missing": ("features", ["--npz", "@nothing.npz"], {}),
    "features_npz_garbage": ("features", ["--npz", "@garbage.npz"], {}),
    "features_npz_wrong_arrays": ("features", ["--npz", "@wrong.npz"], {}),
    "features_npz_mismatched": ("features", ["--npz", "@mismatch.npz"], {}),
    "features_dataset_unknown": ("features", ["--dataset", "no_such_data"], {}),
    "features_dataset_unlabelled": ("features", ["--dataset", "moons"], {}),
    "features_epochs_zero": ("features", ["--npz", "@wrong.npz", "--epochs", "0"], {}),
    "features_batch_text": ("features", ["--npz", "@wrong.npz", "--batch-size", "big"], {}),
    "features_seed_text": ("features", ["--npz", "@wrong.npz", "--seed", "x"], {}),
    "features_out_file": ("features", ["--npz", "@wrong.npz", "--out", "@file"], {}),
    "features_out_empty": ("features", ["--npz", "@wrong.npz", "--out", ""], {}),
    # ------------------------------------------------------------------------------------ reproduce
    "reproduce_no_target": ("reproduce", [], {}),
    "reproduce_unknown_target": ("reproduce", ["table2"], {}),
    "reproduce_seed_negative": ("reproduce", ["table1", "--seeds", "-1"], {}),
    "reproduce_seed_text": ("reproduce", ["table1", "--seeds", "zero"], {}),
    "reproduce_reg_unknown": ("reproduce", ["table1", "--regs", "dip"], {}),
    "reproduce_protocol_unknown": ("reproduce", ["table1", "--protocol", "quick"], {}),
    "reproduce_steps_zero": ("reproduce", ["table1", "--steps", "0"], {}),
    "reproduce_num_samples_zero": ("reproduce", ["table1", "--num-samples", "0"], {}),
    "reproduce_out_file": ("reproduce", ["table1", "--out", "@file"], {}),
    "reproduce_out_empty": ("reproduce", ["table1", "--out", ""], {}),
    "reproduce_out_uncreatable": ("reproduce", ["table1", "--out", UNCREATABLE], {}),
    "reproduce_inception_missing": ("reproduce", ["table1", "--out", "@results",
                                                  "--inception-weights", "@nothing.h5"], {}),
    "reproduce_dataset_unknown": ("reproduce", ["table1", "--out", "@results", "--dataset",
                                                "no_such_data"], {}),
    "evaluate_arrays_run": ("evaluate", ["@arrays"], {}),
    # ------------------------------------------------------------------------------------- retrofit
    "retrofit_no_run": ("retrofit", ["--sampler", "gmm"], {}),
    "retrofit_no_sampler": ("retrofit", ["@normal_fresh"], {}),
    "retrofit_sampler_unknown": ("retrofit", ["@normal_fresh", "--sampler", "maf"], {}),
    "retrofit_missing_dir": ("retrofit", ["@nothing", "--sampler", "gmm"], {}),
    "retrofit_file": ("retrofit", ["@file", "--sampler", "gmm"], {}),
    "retrofit_not_a_run": ("retrofit", ["@dir", "--sampler", "gmm"], {}),
    "retrofit_truncated_config": ("retrofit", ["@truncated", "--sampler", "gmm"], {}),
    "retrofit_dp_source": ("retrofit", ["@good", "--sampler", "flow"], {}),
    "retrofit_no_checkpoint": ("retrofit", ["@normal_fresh", "--sampler", "gmm"], {}),
    "retrofit_components_with_flow": ("retrofit", ["@normal_fresh", "--sampler", "flow",
                                                   "--components", "3"], {}),
    "retrofit_components_negative": ("retrofit", ["@normal_fresh", "--sampler", "gmm",
                                                  "--components", "-1"], {}),
    "retrofit_steps_text": ("retrofit", ["@normal_fresh", "--sampler", "flow", "--steps", "many"], {}),
    "retrofit_out_file": ("retrofit", ["@normal_fresh", "--sampler", "gmm", "--out", "@file"], {}),
    "retrofit_arrays_run": ("retrofit", ["@arrays_normal", "--sampler", "gmm"], {}),
    # ------------------------------------------------------------------------------ the dispatcher
    "dispatcher_no_command": ("tf-dpvae", [], {}),
    "dispatcher_unknown_command": ("tf-dpvae", ["serve"], {}),
    "dispatcher_bad_value": ("tf-dpvae", ["train", "--batch-size", "0"], {}),
    "dispatcher_export_missing_run": ("tf-dpvae", ["export", "@nothing"], {}),
}


# What the line must say, where a case could otherwise pass for the wrong reason (an earlier check).
EXPECTED = {
    "train_batch_over_data": "batch-size 300 is larger than the training set (200 examples)",
    "train_one_example": "num-examples must be an integer in [2,",
    "train_latent_huge": "latent-dim must be an integer in [1, 1,024], got 10000",
    "train_devices_missing": "devices /gpu:7: it does not exist on this machine; available: /cpu:0",
    "train_devices_garbage": "devices toaster: it does not exist",
    "train_dataset_garbage_npz": "not a NumPy .npz/.npy file",
    "train_out_empty": "--out must be a directory path, got ''",
    "train_out_uncreatable": "cannot be created",
    "train_out_other_settings": "holds a run with different settings",
    "train_resume_other_settings": "holds a run with different settings",
    "train_resume_truncated_config": "the run's configuration",
    "train_resume_empty_config": "the run's configuration",
    "train_resume_binary_config": "is not UTF-8 text",
    "train_resume_list_config": "is damaged (not a JSON object of sections)",
    "train_resume_sections_config": "is damaged (not a JSON object of sections)",
    "train_resume_no_intact_checkpoint": "none reads back whole (ckpt-3: ",
    **{f"train_{name}": "TF_CONFIG" for name in TF_CONFIGS},
    "evaluate_truncated_config": "is not a valid run configuration: it does not parse as JSON",
    "evaluate_binary_config": "is not UTF-8 text",
    "evaluate_list_config": "is not a valid run configuration: it is damaged (not a JSON object",
    "evaluate_no_checkpoint": "has no checkpoint yet",
    "evaluate_no_intact_checkpoint": "none reads back whole (ckpt-3: ",
    "evaluate_only_a_data_file": "ckpt-7: its .index file is missing",
    "evaluate_damaged_best": "(--checkpoint latest)",
    "evaluate_num_samples_huge": "num-samples must be at most",
    "evaluate_sizes_beyond_memory": "GiB",
    "evaluate_disentanglement_without_factors": "has no ground-truth factors",
    "export_truncated_config": "is not a valid run configuration: it does not parse as JSON",
    "export_binary_config": "is not UTF-8 text",
    "export_list_config": "is not a valid run configuration: it is damaged (not a JSON object",
    "export_no_checkpoint": "has no checkpoint yet",
    "export_no_intact_checkpoint": "none reads back whole (ckpt-3: ",
    "export_damaged_state_and_index": "none reads back whole (ckpt-3: ",
    "export_damaged_best": "(--checkpoint latest)",
    "export_max_samples_beyond_int32": "max-samples must be at most 2,147,483,647",
    "export_out_empty": "--out must be a directory path, got ''",
    "export_out_uncreatable": "cannot be created",
    "tune_out_empty": "--out must be a directory path, got ''",
    "tune_max_trials_zero": "max-trials must be a positive integer, got 0",
    "features_npz_garbage": "expected arrays x_train, y_train, x_test, y_test",
    "features_out_empty": "--out must be a directory path, got ''",
    "reproduce_out_empty": "--out must be a directory path, got ''",
    "evaluate_arrays_run": "was trained on arrays passed in Python (arrays:mine)",
    "retrofit_arrays_run": "was trained on arrays passed in Python (arrays:mine)",
    "retrofit_no_sampler": "--sampler",
    "retrofit_dp_source": "retrofit fits a prior to a run trained with --prior normal",
    "retrofit_components_with_flow": "--components applies to --sampler gmm",
    "reproduce_out_uncreatable": "cannot be created",
    "reproduce_dataset_unknown": "unknown dataset 'no_such_data'",
}


def resolve(token: str, root) -> str:
    """``@NAME`` → ROOT/NAME, ``@NAME/REST`` → ROOT/NAME/REST; ``npz:@x`` too; others as given."""
    prefix, at, rest = token.partition("@")
    if not at or prefix not in ("", "npz:"):
        return token
    return prefix + str(root / rest)


def snapshot(root) -> dict:
    """Every path under ``root`` with its bytes (None for a directory)."""
    state = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs:
            state[os.path.relpath(os.path.join(directory, name), root)] = None
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, root)] = f.read()
    return state


# Put before each case's own flags (which override them): a command that wrongly accepts its input
# then runs a tiny job, not the default one, and the alarm below stops it if it still runs long.
PREFIX = {"train": ["--no-export", *SMALL],
          "tune": ["--max-trials", "1", "--epochs", "1", *SMALL]}   # not with --config (see below)
ACCEPTED_AFTER_S = 120


class Accepted(Exception):
    """The command was still running: it took the bad input as good."""


def exit_status(main, argv) -> int:
    def stop(signum, frame):
        raise Accepted(f"still running after {ACCEPTED_AFTER_S} s: the input was accepted")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(ACCEPTED_AFTER_S)
    try:
        return main(argv)
    except SystemExit as exc:   # argparse
        return exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_the_table_covers_every_command_with_at_least_100_cases():
    assert len(CASES) + len(SUBPROCESS_CASES) >= 100
    assert {command for command, _, _ in CASES.values()} == set(MODULES)
    assert set(EXPECTED) <= set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_exit_2_one_line_and_nothing_written(case, tmp_path, monkeypatch, capfd,
                                                          checkpoint_files):
    command, argv, env = CASES[case]
    world(tmp_path, checkpoint_files)
    line = one_line_refusal(command, argv, tmp_path, monkeypatch, capfd, env)
    assert EXPECTED.get(case, "") in line, line


def one_line_refusal(command, argv, root, monkeypatch, capfd, env=None, resolve=resolve) -> str:
    """Run ``command``'s ``main`` in-process on ``argv`` (after the command's ``PREFIX``, @-tokens
    resolved in ``root`` by ``resolve``) from ``root``, with ``env`` set and no TF_CONFIG; assert exit status 2,
    exactly one line on stderr (no traceback) and nothing written under ``root``; return the line.
    The harness of this file's cases and of ``test_cli_fuzz_hostile``'s."""
    monkeypatch.chdir(root)   # where the default outputs would go
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    main = importlib.import_module(MODULES[command]).main
    # a case that resumes a run gives its --config: the prefix's sizes would be other settings
    prefix = PREFIX.get(command, []) if "--config" not in argv else []
    argv = [resolve(token, root) for token in prefix + argv]
    capfd.readouterr()
    before = snapshot(root)
    status = exit_status(main, argv)
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert status == 2, (status, err[-3000:])
    assert len(lines) == 1, err[-3000:]
    assert "Traceback" not in err and "error" in lines[0], err[-3000:]
    assert snapshot(root) == before
    return lines[0]


SUBPROCESS_CASES = {
    "env_tf_config_not_json": (["-m", "tf_dpvae.train", "--strategy", "multiworker"],
                               {"TF_CONFIG": "{not json"}),
    "env_tf_config_empty": (["-m", "tf_dpvae.train", "--strategy", "multiworker"],
                            {"TF_CONFIG": ""}),
    "env_tf_config_bad_index": (["-m", "tf_dpvae.cli.main", "train", "--strategy", "multiworker"],
                                {"TF_CONFIG": TF_CONFIGS["tf_config_bad_index"]}),
}


@pytest.mark.parametrize("case", sorted(SUBPROCESS_CASES))
def test_a_bad_environment_is_exit_2_one_line_from_the_process(case, tmp_path):
    """The whole process, as a user starts it: its stderr (TensorFlow's native start-up lines
    included, were it loaded) is the one line."""
    args, env = SUBPROCESS_CASES[case]
    full_env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    full_env.update({"PYTHONPATH": ROOT, **env})
    full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)   # as a user's shell has it
    done = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "run")], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1 and "TF_CONFIG" in lines[0], done.stderr[-3000:]
    assert os.listdir(tmp_path) == []
