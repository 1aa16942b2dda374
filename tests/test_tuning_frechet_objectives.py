"""tuning.frechet_objectives: fd scoring a two-trial search end to end, and fd and lp_fd against
closed forms."""

import json

import pytest

from tf_dpvae.cli import tune
from tf_dpvae.config import ConfigError

from conftest import tiny_config
from tuning_cases import SPACE


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
