"""evaluation.publish: eval/ written as one set, the TensorBoard scalars and the two Markdown tables."""

import json
import os

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from tf_dpvae.evaluation import publish


def tiny_results(tag, metrics=None, step=1):
    import tensorflow as tf

    png = tf.image.encode_png(tf.zeros((2, 2, 4), tf.uint8)).numpy()
    return {"metrics": {"step": step, "tag": tag, "metrics": metrics or {"leakage": {}}},
            "figures": {tag: png}}


def test_eval_is_published_as_one_set(tmp_path, monkeypatch):
    """A kill while eval/ is being written leaves the old set whole (no new figure beside old
    metrics); the next evaluation removes the killed one's temporary and replaces the whole set."""
    from tf_dpvae import files

    publish.write_results(str(tmp_path), tiny_results("first"), extra_files={"samples.npz": b"1"})
    original = files.write_atomic

    def killed_after_one_file(path, payload, **kwargs):
        original(path, payload, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "write_atomic", killed_after_one_file)
    with pytest.raises(KeyboardInterrupt):
        publish.write_results(str(tmp_path), tiny_results("second"))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "eval")) == ["first.png", "metrics.json", "samples.npz"]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["tag"] == "first"
    (tmp_path / ".tmp-eval-killed").mkdir()   # a SIGKILL leaves its temporary behind
    publish.write_results(str(tmp_path), tiny_results("third"))
    assert sorted(os.listdir(tmp_path / "eval")) == ["metrics.json", "third.png"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith((".tmp-", ".old-"))]


def test_scalars_are_the_numbers_of_metrics_json_less_the_sizes(tmp_path):
    """Every int or float of a metric group becomes ``group/key`` at the run's step (a negative step,
    a run evaluated before training, at 0); booleans, strings and the sample sizes do not; the figure
    carries its description."""
    metrics = {"nll": {"importance_sampled": 1.5, "examples": 8, "is_samples": 4, "split": "held-out"},
               "symmetric_kl": {"skl": 2, "samples_per_side": 60},
               "sample_quality_data": {"precision": 0.25, "skipped": False, "nearest_k": 5},
               "leakage": {}}
    path = publish.write_results(str(tmp_path), tiny_results("samples", metrics, step=-1))
    assert path == os.path.join(str(tmp_path), "eval", "metrics.json")
    acc = EventAccumulator(str(tmp_path / "logs" / "run" / "eval"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"nll/importance_sampled", "symmetric_kl/skl", "sample_quality_data/precision",
            "samples"} <= tags
    assert not {"nll/examples", "nll/is_samples", "nll/split", "symmetric_kl/samples_per_side",
                "sample_quality_data/skipped", "sample_quality_data/nearest_k"} & tags
    event, = acc.Tensors("symmetric_kl/skl")
    assert event.step == 0 and float(tensor_util.make_ndarray(event.tensor_proto)) == 2.0
    description = acc.SummaryMetadata("samples").summary_description
    assert description == publish.FIGURE_DESCRIPTIONS["samples"]
    # no leakage curves: no leakage table; a sample metric with a precision: its table
    assert "evaluation/leakage" not in tags and "evaluation/sample_quality" in tags


def leak_record(coincide=False):
    return {"headline": "eq6_literal", "variants_coincide": coincide,
            "eq6_literal": {"tau": [-20.0, -2.5], "leakage_score": [0.125, None],
                            "fraction_below": [0.5, 0.0]},
            "full_density": {"tau": [-20.0, -2.5], "leakage_score": [-1.0, 3.0],
                             "fraction_below": [0.5, 0.0]}}


def test_leakage_table_has_a_row_per_tau_and_a_column_per_variant():
    """Columns in the order of leakage.VARIANTS (only the variants present), the headline marked,
    None as a dash, numbers to four significant digits; the sign and each variant explained."""
    lines = publish.leakage_table(leak_record()).splitlines()
    assert lines[0] == ("| τ | LS eq6_literal (headline) | LS full_density | share below τ "
                        "(eq6_literal) |")
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| -20 | 0.125 | -1 | 0.5 |"
    assert lines[3] == "| -2.5 | — | 3 | 0 |"
    text = "\n".join(lines)
    assert publish.plots.LEAKAGE_SIGN in text and "- **full_density**:" in text
    assert "coincide" not in text
    assert "the variants coincide" in publish.leakage_table(leak_record(coincide=True))
    assert publish.leakage_table({}) == ""
    assert publish.leakage_table({"full_density": leak_record()["full_density"]}) == ""   # no headline


def test_sample_quality_table_puts_each_frechet_distance_beside_its_embedding():
    """A row per (embedding, random / low-posterior / train vs held-out), the FD of the same
    embedding's frechet_distance_* group; skipped groups and other metrics are left out."""
    values = {"precision": 0.5, "recall": 0.25, "density": 1.125, "coverage": 0.75,
              "lp_precision": 0.0625, "lp_recall": 0.5, "lp_density": 0.1, "lp_coverage": 0.2,
              "train_vs_held_out": {"precision": 0.875, "recall": 0.875, "density": 1.0, "coverage": 0.9}}
    metrics = {"sample_quality_data": values,
               "frechet_distance_data": {"random": 12.345678, "low_posterior": 30.0,
                                         "train_vs_held_out": 0.5},
               "sample_quality_pixels": {"skipped": True, "reason": "too few"},
               "symmetric_kl": {"skl": 1.0}}
    lines = publish.sample_quality_table(metrics).splitlines()
    assert lines[0] == "| embedding | samples | FD | precision | recall | density | coverage |"
    assert lines[2:5] == ["| data | random | 12.35 | 0.5 | 0.25 | 1.125 | 0.75 |",
                          "| data | low-posterior | 30 | 0.0625 | 0.5 | 0.1 | 0.2 |",
                          "| data | train vs held-out | 0.5 | 0.875 | 0.875 | 1 | 0.9 |"]
    assert lines[5] == "" and "pixels" not in "\n".join(lines)
    # an embedding without a Fréchet distance (the untrained ones) gets a dash
    no_fd = publish.sample_quality_table({"sample_quality_random_conv": values})
    assert "| random_conv | random | — | 0.5 |" in no_fd
    assert publish.sample_quality_table({"sample_quality_pixels": {"skipped": True}}) == ""
