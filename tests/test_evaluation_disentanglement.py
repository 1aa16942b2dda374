"""disentanglement_scores: all four metrics from one call, on factor values and on rendered dSprites."""

import numpy as np
import pytest

from disentanglement_cases import ValueSource, identity, noise
from tf_dpvae import data
from tf_dpvae.config import ConfigError, DataConfig
from tf_dpvae.datasets import dsprites
from tf_dpvae.evaluation import disentanglement as dis

TINY = {"num_train": 400, "num_test": 200, "factor_vae_train": 100, "factor_vae_eval": 100,
        "factor_vae_variance": 500, "factor_vae_batch_size": 32}


def test_scores_of_the_true_factors_and_of_noise():
    source = ValueSource(sizes=(3, 4, 5))
    true = dis.disentanglement_scores(identity, source, seed=0, **TINY)
    assert set(true) == {"mig", "factor_vae", "dci", "sap", "scores", "settings", "seconds"}
    s = true["scores"]
    assert s["mig"] > 0.95 and s["factor_vae_score"] == 1.0
    assert s["dci_disentanglement"] > 0.95 and s["dci_completeness"] > 0.95
    # Discrete SAP (the default): uninformative codes score at chance and a linear rule on one code
    # cannot pick out every value of a 4- or 5-valued factor, so its maximum here is well below 1.
    assert s["dci_informativeness_test"] == 1.0 and s["sap"] > 0.25
    assert true["settings"]["factor_sizes"] == [3, 4, 5] and true["settings"]["num_train"] == 400
    r = dis.disentanglement_scores(noise(3), source, seed=0, **TINY)["scores"]
    assert r["mig"] < 0.05 and r["factor_vae_score"] < 0.6 and r["dci_disentanglement"] < 0.25
    assert abs(r["sap"]) < 0.1


def test_a_subset_of_metrics_and_the_defaults_are_the_references():
    out = dis.disentanglement_scores(identity, ValueSource(), seed=0, metrics=("mig",),
                                     num_train=500)
    assert set(out["scores"]) == {"mig"}
    import inspect

    defaults = {k: v.default for k, v in
                inspect.signature(dis.disentanglement_scores).parameters.items()
                if v.default is not inspect.Parameter.empty}
    assert defaults["num_train"] == 10_000 and defaults["num_test"] == 5_000
    assert defaults["num_bins"] == 20 and defaults["factor_vae_batch_size"] == 64
    assert defaults["factor_vae_train"] == 10_000 and defaults["factor_vae_eval"] == 5_000
    assert defaults["factor_vae_variance"] == 10_000 and defaults["prune_threshold"] == 0.05
    assert defaults["sap_continuous"] is False


def test_images_to_codes_end_to_end_on_the_procedural_dsprites():
    """An image encoder that measures the sprite (centroid column, centroid row, √area) recovers
    posX and posY: their MIG is high; orientation gets nothing (the area also tells the shapes apart,
    so shape and scale share the √area code)."""
    def measure(images):
        img = images[..., 0]
        grid = np.arange(img.shape[1])
        area = img.sum(axis=(1, 2))
        return np.stack([(img.sum(axis=1) * grid).sum(axis=1) / area,
                         (img.sum(axis=2) * grid).sum(axis=1) / area, np.sqrt(area)], axis=1)

    source = data.load(DataConfig(dataset="dsprites_procedural", num_examples=20, image_size=32),
                       seed=0).factor_source
    out = dis.disentanglement_scores(measure, source, seed=0, metrics=("mig",), num_train=3000)
    per_factor = dict(zip(dsprites.FACTOR_NAMES, out["mig"]["mig_per_factor"]))
    assert per_factor["posX"] > 0.6 and per_factor["posY"] > 0.6
    assert per_factor["orientation"] < 0.05


def test_data_without_factors_and_bad_sizes_are_clear_errors():
    moons = data.load(DataConfig(dataset="moons", num_examples=20), seed=0)
    with pytest.raises(ConfigError, match="data set 'moons' has no ground-truth factors"):
        dis.factor_source_for(moons)
    with pytest.raises(ConfigError, match="no ground-truth factors"):
        dis.disentanglement_scores(identity, None)
    for name in ("num_train", "num_test", "num_bins", "factor_vae_batch_size", "factor_vae_train",
                 "factor_vae_eval", "factor_vae_variance", "batch_size"):
        with pytest.raises(ConfigError, match=f"{name} must be a positive integer, got 0"):
            dis.disentanglement_scores(identity, ValueSource(), **{name: 0})
    with pytest.raises(ConfigError, match="metrics must be a non-empty subset"):
        dis.disentanglement_scores(identity, ValueSource(), metrics=("beta_vae",))
    with pytest.raises(ConfigError, match="seed must be a non-negative integer, got -1"):
        dis.disentanglement_scores(identity, ValueSource(), seed=-1)
    assert issubclass(dis.DisentanglementError, ConfigError)
