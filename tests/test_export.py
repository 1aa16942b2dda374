"""The export package's own checks (``tf_dpvae/export/__init__.py``); the export itself is tested
in test_export_savedmodel.py and test_export_signatures.py."""

import numpy as np


def test_max_samples_limit_is_the_int32_maximum():
    from tf_dpvae.export import MAX_MAX_SAMPLES, max_samples_problem

    assert MAX_MAX_SAMPLES == np.iinfo(np.int32).max
    assert max_samples_problem(MAX_MAX_SAMPLES) is None
    assert max_samples_problem(MAX_MAX_SAMPLES + 1) is not None
