"""SavedModel sampler for TF Serving (issue 5).

    signatures.py   the serving signatures (sample, encode, decode, reconstruct, log_prob) with their
                    in-graph input checks, as a ``keras.export.ExportArchive``
    savedmodel.py   restore a run's latest checkpoint; write ``saved_models/<name>/<version>/`` atomically
    __main__.py     the command line: ``python -m tf_dpvae.export RUN_DIR [--out DIR] [--max-samples N]``

Only plain-Python pieces live here (no TensorFlow import), so that the command line can validate its
arguments with the same checks as the library before TensorFlow loads.
"""

from __future__ import annotations

import os

from tf_dpvae.errors import positive_int_problem

# The largest num_samples a request may ask for, unless chosen otherwise at export. It bounds the memory
# one request can take: max_samples · prod(example shape) floats (10,000 × 64×64×3 ≈ 0.5 GB).
DEFAULT_MAX_SAMPLES = 10_000


# Documented ranges of the serving inputs (issue 26): a finite request outside them fails with
# InvalidArgument naming the input, and no signature returns a non-finite value for a finite request
# (every output is checked in the graph too). Temperature scales ε ~ N(0, I): Glow samples at 0.7,
# and past 10 the draws sit where no code was ever trained. Images and codes beyond ±1e4 are outside
# any standardized data set or posterior (two moons: |x| < 3; images: [0, 1]).
MAX_TEMPERATURE = 10.0
MAX_ABS_INPUT = 1e4
# encode's log_var is clipped to this range: exp(½·30) ≈ 3.3e6 is already a posterior wider than any
# code, and an input far from the data would otherwise give a log-variance whose exp overflows.
LOG_VAR_RANGE = (-30.0, 30.0)


# Vector data (two moons, npz vectors, arrays) is trained standardized; the export's metadata holds the
# training split's constants under "standardization", and this is how a client maps samples back.
DATA_UNITS_RECIPE = ("the model's images are standardized vectors: x = images * std + mean per feature, "
                     "with mean and std from 'standardization' (tf_dpvae.export.to_data_units)")


def to_data_units(images, metadata: dict):
    """Samples of a vector-data export (``sample``/``decode``/``reconstruct``'s ``images`` [n, D]) in
    the data's own units, x = images·std + mean, with the constants of the export's metadata
    (``savedmodel.read_metadata``); images of an image export (no ``standardization``) unchanged."""
    import numpy as np

    constants = metadata.get("standardization")
    images = np.asarray(images, np.float32)
    if not constants:
        return images
    return images * np.asarray(constants["std"], np.float32) + np.asarray(constants["mean"], np.float32)


def out_problem(out: str) -> str | None:
    """Why ``out`` cannot hold versions, as one line, or None."""
    if os.path.exists(out) and not os.path.isdir(out):
        return f"--out {out!r} is a file; give a directory for the versions"
    return None


# The serving graph takes num_samples as an int32 tensor: a larger limit could never be reached and
# would make the in-graph check compare against an overflowed constant.
MAX_MAX_SAMPLES = 2 ** 31 - 1


def max_samples_problem(max_samples) -> str | None:
    problem = positive_int_problem("max-samples", max_samples)
    if problem:
        return problem
    if max_samples > MAX_MAX_SAMPLES:
        return (f"max-samples must be at most {MAX_MAX_SAMPLES:,} (2**31 - 1: num_samples is an int32 "
                f"in the serving signatures), got {max_samples:,}")
    return None
