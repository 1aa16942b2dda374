"""evaluation.run's helpers of the orchestrator: the per-evaluation memory of a feature network's
outputs and the stage clock (the metrics themselves: test_evaluate, end to end)."""

import time

import numpy as np

from tf_dpvae.evaluation import run


def test_remember_computes_a_networks_features_once_per_input_bytes():
    """The Fréchet distance and the sample metrics pass the same decoded samples through the same
    network: the second pass is the first's result; other bytes, shape or dtype compute again."""
    calls = []

    def features(x):
        calls.append(np.asarray(x).shape)
        return np.asarray(x, np.float64).reshape(len(x), -1) + 1

    cached = run.remember(features)
    x = np.random.default_rng(0).random((4, 3, 3, 1)).astype(np.float32)
    first = cached(x)
    np.testing.assert_array_equal(cached(x.copy()), first)
    assert len(calls) == 1
    changed = x.copy()
    changed[1, 1, 1, 0] += 1e-4
    np.testing.assert_array_equal(cached(changed), features(changed))
    cached(x.astype(np.float64))
    cached(x.reshape(4, 9, 1, 1))
    assert len(calls) == 5          # 3 new inputs (one direct call above)
    run.remember(features)(x)    # a new evaluation starts empty
    assert len(calls) == 6


def test_a_stage_timed_in_pieces_gets_their_sum():
    clock = run._Clock()
    for _ in range(2):
        with clock("sample_quality"):
            time.sleep(0.02)
    with clock("nll"):
        pass
    assert clock.timings["sample_quality"] >= 0.04
    assert clock.total()["total"] >= clock.timings["sample_quality"] + clock.timings["nll"]
