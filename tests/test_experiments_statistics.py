"""tf_dpvae.experiments.statistics: mean ± s.e., the paper's numbers."""

import math

import numpy as np
import pytest

from tf_dpvae.config import REGULARIZERS
from tf_dpvae.experiments.statistics import PAPER_MNIST, mean_se

def test_mean_and_standard_error():
    assert mean_se([3.0]) == {"mean": 3.0, "se": None, "n": 1}
    got = mean_se([1.0, 2.0, 6.0, None, float("nan")])
    assert got["n"] == 3 and got["mean"] == 3.0
    assert got["se"] == pytest.approx(np.std([1, 2, 6], ddof=1) / math.sqrt(3))
    assert mean_se([]) == {"mean": None, "se": None, "n": 0}


def test_paper_numbers_cover_every_regularizer():
    assert set(PAPER_MNIST) == set(REGULARIZERS)
    for reg, pair in PAPER_MNIST.items():
        assert set(pair) == {"normal", "dp"} and all(len(v) == 4 for v in pair.values())
    # the dp model has the lower FID in every MNIST row of the paper's Table 1
    assert all(p["dp"]["fid"] < p["normal"]["fid"] for p in PAPER_MNIST.values())
