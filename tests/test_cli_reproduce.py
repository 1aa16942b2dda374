"""python -m tf_dpvae.reproduce table1 end to end on two moons (tiny): files, resumption after an
interruption (finished models are neither retrained nor re-evaluated), and bad input."""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from tf_dpvae.cli import reproduce
from tf_dpvae.experiments.hparams import EXPERIMENT_RUN, HPARAMS_CONFIG_SUFFIX
from tf_dpvae.experiments.protocol import pair_configs
from tf_dpvae.experiments.results import checkpoint_step

TINY = ["--dataset", "moons", "--regs", "none", "beta", "--seeds", "0", "--steps", "4", "--no-post-hoc",
        "--num-samples", "40", "--lp-pool", "2", "--skl-samples", "60", "--is-samples", "8",
        "--nll-examples", "8", "--no-progress",
        # the paper's affine coupling: a spline step takes ~3x as long to trace, and the protocol,
        # not the flow, is what these tests are about (the default flow is tested in test_priors)
        "--set", "prior.coupling=affine"]
NAMES = ["none-normal-seed0", "none-dp-seed0", "beta-normal-seed0", "beta-dp-seed0"]


def stamp(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_table1_end_to_end_and_resume(tmp_path, capsys, monkeypatch):
    """Two interruptions: a model trained 2 of its 4 steps before the command ran (it resumes), and
    Ctrl-C while the last model is being evaluated (the rerun evaluates it without retraining it and
    skips the three finished models)."""
    from tf_dpvae import training
    from tf_dpvae.evaluation import run as eval_run

    out = tmp_path / "out"
    runs = out / "runs"
    request = reproduce.request_from_args(reproduce.build_parser().parse_args(
        ["table1", *TINY, "--out", str(out)]))
    halfway = pair_configs(request.protocol, "none", 0)["dp"].replace(train={"steps": 2})
    training.fit(halfway, str(runs / "none-dp-seed0"), verbose=0, log=lambda *_: None)
    assert checkpoint_step(str(runs / "none-dp-seed0")) == 2

    evaluate_run = eval_run.evaluate_run

    def interrupted(run_dir, settings, log=print):
        if run_dir.endswith("beta-dp-seed0"):
            raise KeyboardInterrupt
        return evaluate_run(run_dir, settings, log=log)

    monkeypatch.setattr(eval_run, "evaluate_run", interrupted)
    # Ctrl-C: one line and the conventional status 130 (issue 26), not a traceback
    assert reproduce.main(["table1", *TINY, "--out", str(out)]) == 130
    monkeypatch.undo()
    captured = capsys.readouterr()
    printed = captured.out
    assert captured.err.endswith("python -m tf_dpvae.reproduce table1: interrupted by SIGINT\n")
    assert "Traceback" not in captured.err   # (above it: the evaluation's progress bars)
    assert "none-dp-seed0: resuming from" in printed and "(step 2)" in printed
    assert [r["seeds"] for r in csv.DictReader((out / "table1.csv").open())] == ["1", "1", "1", "0"]
    assert checkpoint_step(str(runs / "beta-dp-seed0")) == 4
    assert not (runs / "beta-dp-seed0" / "eval" / "metrics.json").exists()
    finished = {n: stamp(runs / n / "eval" / "metrics.json") for n in NAMES[:3]}
    checkpoints = {n: stamp(runs / n / "checkpoints" / "checkpoint") for n in NAMES}

    assert reproduce.main(["table1", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name, before in finished.items():
        assert f"{name}: skipped" in printed
        assert stamp(runs / name / "eval" / "metrics.json") == before
    assert "beta-dp-seed0: trained to step 4 already" in printed
    assert {n: stamp(runs / n / "checkpoints" / "checkpoint") for n in NAMES} == checkpoints
    assert "skipped" in (out / "reproduce.log").read_text()

    for name in NAMES:
        run = runs / name
        assert checkpoint_step(str(run)) == 4
        metrics = json.loads((run / "eval" / "metrics.json").read_text())
        assert metrics["step"] == 4 and metrics["settings"]["is_samples"] == 8
        assert (run / "eval" / "samples.npz").is_file() and (run / "table1_timing.json").is_file()
        assert os.listdir(run / "logs" / "run" / "table1")
    # the pair differs in the prior only
    configs = [json.loads((runs / n / "config.json").read_text()) for n in NAMES[:2]]
    assert configs[0]["prior"].pop("kind") == "normal" and configs[1]["prior"].pop("kind") == "dp"
    # and in the flow setting TINY's --set gives the dp model only (protocol.pair_configs)
    assert (configs[0]["prior"].pop("coupling"), configs[1]["prior"].pop("coupling")) == (
        "spline", "affine")
    assert configs[0] == configs[1]
    assert any(f.endswith(HPARAMS_CONFIG_SUFFIX) for f in os.listdir(runs / EXPERIMENT_RUN))

    rows = list(csv.DictReader((out / "table1.csv").open()))
    assert [(r["regularizer"], r["prior"], r["seeds"]) for r in rows] == [
        ("none", "normal", "1"), ("none", "dp", "1"), ("beta", "normal", "1"), ("beta", "dp", "1")]
    assert all(r["fd_mean"] and r["skl_mean"] and r["nll_mean"] and r["fd_se"] == "" for r in rows)
    md = (out / "table1.md").read_text()
    assert "| β-dpVAE-H | 1 |" in md and "LS(τ=-4)" in md and "137.4" in md and "Commit `" in md
    data = json.loads((out / "table1.json").read_text())
    assert data["protocol"]["name"] == "reduced" and data["overrides"]["steps"] == 4
    assert data["models"]["beta-dp-seed0"]["curve"]["tau"][7] == -4.0
    assert data["wall_seconds"]["train_total_seconds"] > 0
    for png in ("leakage.png", "samples_none.png", "samples_beta.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def one_line_error(argv, capsys):
    """(exit status, stderr lines) of main(argv), whether argparse exits or main returns."""
    try:
        code = reproduce.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("bad", [
    ["--regs", "none", "unknown"], ["--seeds", "-1"], ["--steps", "0"], ["--steps", "-3"],
    ["--protocol", "huge"], ["--seeds", "2", "2"], ["--inception-weights", "/no/such/file"],
])
def test_bad_input_is_one_line_and_writes_nothing(bad, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = one_line_error(["table1", *bad, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("python -m tf_dpvae.reproduce table1: error:")
    assert not out.exists()


def test_bad_input_after_loading_tensorflow_writes_nothing(tmp_path, capsys):
    """Checks that need the data or an existing run: still exit 2, one line, nothing written."""
    out = tmp_path / "out"
    code, err = one_line_error(["table1", *TINY, "--dataset", "no such set!", "--out", str(out)],
                               capsys)
    assert code == 2 and len(err) == 1 and "unknown dataset" in err[0] and not out.exists()
    run = out / "runs" / "none-normal-seed0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"train": {"lr": 0.5}}))
    code, err = one_line_error(["table1", *TINY, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and "different settings (train.lr)" in err[0]
    assert sorted(os.listdir(out)) == ["runs"] and sorted(os.listdir(out / "runs")) == [run.name]


def test_post_hoc_rows_are_on_unless_left_out(tmp_path):
    parse = reproduce.build_parser().parse_args
    base = ["table1", "--out", str(tmp_path / "o")]
    assert reproduce.request_from_args(parse(base)).post_hoc
    assert not reproduce.request_from_args(parse([*base, "--no-post-hoc"])).post_hoc
    assert reproduce.request_from_args(parse([*base, "--post-hoc-steps", "7"])).protocol.post_hoc_steps == 7


def test_bad_input_exits_before_tensorflow_loads(tmp_path):
    code = ("import sys\nfrom tf_dpvae import reproduce\n"
            "try:\n"
            f"    reproduce.main(['table1', '--regs', 'bogus', '--out', {str(tmp_path / 'o')!r}])\n"
            "except SystemExit as e:\n"
            "    assert 'tensorflow' not in sys.modules\n"
            "    sys.exit(e.code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "invalid choice" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad,fragment", [
    (["--set", "prior.num_blocks"], "expected SECTION.FIELD=VALUE"),
    (["--set", "nosection=3"], "expected SECTION.FIELD=VALUE"),
    (["--set", "prior.no_such_field=3"], "a setting of the configuration"),
    (["--set", "model.latent_dim=10"], "use --latent-dim"),
    (["--set", "objective.reg=beta"], "every --regs"),
    (["--set", "prior.num_blocks=4", "prior.num_blocks=6"], "names prior.num_blocks twice"),
    (["--set", "prior.num_blocks=1"], "flow_blocks must be at least 2"),
    (["--latent-dim", "0"], "expected a positive integer"),
])
def test_bad_overrides_are_one_line_and_write_nothing(bad, fragment, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = one_line_error(["table1", *bad, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_overrides_reach_every_model_the_record_and_the_default_out(tmp_path):
    parse = reproduce.build_parser().parse_args
    request = reproduce.request_from_args(parse(
        ["table1", "--latent-dim", "10", "--set", "prior.num_blocks=4", "objective.beta=2.5"]))
    assert request.out == os.path.join("results", "fashion_mnist_d10_num_blocks-4_beta-2.5")
    assert request.protocol.latent_dim == 10
    assert request.overrides == {"latent_dim": 10, "config_overrides": (
        ("prior.num_blocks", 4), ("objective.beta", 2.5))}
    pair = pair_configs(request.protocol, "beta", 0)
    for prior, config in pair.items():
        assert (config.model.latent_dim, config.objective.beta) == (10, 2.5)
    # a flow setting reaches the dp model only: the normal-prior model is shared by tables of flows
    assert pair["dp"].prior.num_blocks == 4
    assert pair["normal"] == pair_configs(dataclasses.replace(
        request.protocol, config_overrides=(("objective.beta", 2.5),)), "beta", 0)["normal"]
    assert request.protocol.title() == ("fashion_mnist, protocol `reduced`, latent dim 10, "
                                        "prior.num_blocks=4, objective.beta=2.5")


def test_a_table_made_with_other_settings_is_refused(tmp_path, capsys):
    """The overrides are recorded in table1.json and its title; rerunning into the same --out with
    other ones is refused with one line before anything is written, the same ones resume."""
    out = tmp_path / "out"
    args = [a for a in TINY if a not in ("beta", "--no-post-hoc")] + [
        "--post-hoc-steps", "3", "--latent-dim", "3", "--set", "prior.num_blocks=4"]
    assert reproduce.main(["table1", *args, "--out", str(out)]) == 0
    # TensorBoard (issue 25): every model, post-hoc rows included, is one HParams session in its
    # logs/run, with the table's numbers as that session's metrics (group table1)
    from test_summaries import accumulator, scalar_steps, sessions, tensorboard_sessions

    for name in ("none-normal-seed0", "none-dp-seed0", "none-flow-seed0", "none-gmm-seed0"):
        found = sessions(str(out / "runs" / name))
        assert len(found) == 1, (name, found)
        (hparams, directory), = next(iter(found.values()))
        assert directory == str(out / "runs" / name / "logs" / "run")
        assert (hparams["reg"], hparams["prior"], hparams["seed"]) == ("none", name.split("-")[1], 0)
        assert {"table1/fd_random", "table1/skl", "table1/precision"} <= set(
            scalar_steps(str(out / "runs" / name / "logs" / "run" / "table1")))
        # latent size 3: the projector of the held-out codes, and of the best epoch's for the
        # trained models
        assert (out / "runs" / name / "logs" / "run" / "eval" / "projector_config.pbtxt").is_file()
        assert (out / "runs" / name / "logs" / "run" / "projector_config.pbtxt").is_file() == (
            name.split("-")[1] in ("normal", "dp"))
    # the one experiment, in a named run: no events at runs/ itself (TensorBoard's run ".")
    assert len(list((out / "runs" / EXPERIMENT_RUN).glob("events.out.tfevents.*"))) == 1
    assert not list((out / "runs").glob("events.out.tfevents.*"))
    # what the HParams dashboard of `tensorboard --logdir <out>/runs` shows (TensorBoard's code):
    # one session per model, its hparams and its metrics together
    found, tb_runs = tensorboard_sessions(out / "runs")
    assert "." not in tb_runs
    assert sorted(found) == ["none-dp-seed0", "none-flow-seed0", "none-gmm-seed0",
                             "none-normal-seed0"]
    for name, (hparams, metrics) in found.items():
        assert (hparams["reg"], hparams["prior"]) == ("none", name.split("-")[1])
        assert {"table1/fd_random", "table1/skl", "table1/precision"} <= set(metrics), name
    best = json.loads((out / "runs" / "none-dp-seed0" / "checkpoints" / "best" / "best.json").read_text())
    assert found["none-dp-seed0"][1]["best/step"] == best["step"]
    # the best epoch's figure is kept at the best step
    figures = accumulator(str(out / "runs" / "none-dp-seed0" / "logs" / "run")).Tensors("best/figure")
    assert figures[-1].step == best["step"]
    data = json.loads((out / "table1.json").read_text())
    assert data["protocol"]["latent_dim"] == 3
    assert data["protocol"]["config_overrides"] == [["prior.num_blocks", 4]]
    assert data["overrides"]["config_overrides"] == [["prior.num_blocks", 4]]
    assert (out / "table1.md").read_text().startswith(
        "# Table 1, reproduced: moons, protocol `reduced`, latent dim 3, prior.num_blocks=4")
    config = json.loads((out / "runs" / "none-dp-seed0" / "config.json").read_text())
    assert config["model"]["latent_dim"] == 3 and config["prior"]["num_blocks"] == 4
    normal = json.loads((out / "runs" / "none-normal-seed0" / "config.json").read_text())
    assert normal["prior"]["num_blocks"] == 6   # the default: flow settings are the dp model's
    capsys.readouterr()
    before = {p: stamp(p) for p in out.rglob("*")}
    for other in (["--latent-dim", "2", "--set", "prior.num_blocks=4"], ["--latent-dim", "3"],
                  ["--latent-dim", "3", "--set", "prior.num_blocks=6"]):
        changed = [a for a in TINY if a not in ("beta", "--no-post-hoc")] + other
        code, err = one_line_error(["table1", *changed, "--out", str(out)], capsys)
        assert code == 2 and len(err) == 1 and "holds a table made with other settings" in err[0]
    assert {p: stamp(p) for p in out.rglob("*")} == before
    assert reproduce.main(["table1", *args, "--out", str(out)]) == 0   # the same: resumes (skips)
    assert "none-dp-seed0: skipped" in capsys.readouterr().out
