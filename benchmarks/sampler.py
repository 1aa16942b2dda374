"""Throughput of the exported ``sample`` signature through TF Serving's graph path.

    python benchmarks/sampler.py [--repeats 7] [--batches 1 64 1024]

Builds the paper's 28×28×1 architecture with the decoupled prior (the reference code's ``beta_mnist``
encoder/decoder, ``shared/reference-code.md`` §2a, d = 2, K = 6 coupling blocks of width 64), exports it
with ``tf_dpvae.export``, loads the version with the TF1 loader in a ``tf.compat.v1.Session`` and times
``sample`` (fetching images, z and z0, as a request does) with ``Session.make_callable``. Weights are
untrained: throughput does not depend on their values. Rounds interleave the batch sizes (timings on
shared machines drift); each cell is the median over rounds of samples per second, with the range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae.export.savedmodel import export_model  # noqa: E402
from tf_dpvae.export.session import ServingSession  # noqa: E402
from tf_dpvae.model import build_model  # noqa: E402


def build(latent_dim=2):
    """The package's own ``beta_mnist`` networks (reference §2a) with the default decoupled prior."""
    config = RunConfig().replace(objective={"reg": "none"}, prior={"kind": "dp"},
                                 model={"arch": "beta_mnist", "latent_dim": latent_dim})
    return build_model(config, (None, 28, 28, 1))


def time_batch(call, batch, seed, min_seconds=0.3):
    """(samples per wall-clock second, samples per CPU second of this process) of ``call`` at
    ``batch``, over at least ``min_seconds`` of calls. The second number does not drop when other
    processes take the cores, so it tells a slow machine from a busy one."""
    calls, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        call(np.int32(batch), seed, np.float32(1.0))
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * batch / elapsed, calls * batch / (time.process_time() - cpu_start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    args = p.parse_args(argv)

    model = build()
    params = sum(int(np.prod(v.shape)) for v in model.vae_variables)
    with tempfile.TemporaryDirectory() as out:
        result = export_model(model, out, max_samples=max(args.batches))
        with ServingSession(result.path) as served:
            call = served.callable("sample", ["num_samples", "seed", "temperature"],
                                   ["images", "z", "z0"])
            seed = np.array([1, 2], np.int32)
            images, _, _ = call(np.int32(4), seed, np.float32(1.0))
            assert images.shape == (4, 28, 28, 1)
            for batch in args.batches:  # warm-up: the first run of each shape allocates
                call(np.int32(batch), seed, np.float32(1.0))
            rates = {b: [] for b in args.batches}
            for _ in range(args.repeats):
                for batch in args.batches:
                    rates[batch].append(time_batch(call, batch, seed))

    print(f"exported `sample` of a 28×28×1 conv dpVAE (reference beta_mnist nets, d=2, K=6 flow "
          f"blocks; {params:,} weights), TF1 session path, tensorflow {tf.__version__}, "
          f"{os.cpu_count()} CPU cores, oneDNN opts {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}")
    print(f"median of {args.repeats} interleaved rounds (each ≥ 0.3 s of calls)\n")
    print("| batch | samples/s (median) | range | ms per call | samples per CPU-second |")
    print("|---:|---:|---:|---:|---:|")
    for batch in args.batches:
        wall = [r[0] for r in rates[batch]]
        med = statistics.median(wall)
        cpu = statistics.median(r[1] for r in rates[batch])
        print(f"| {batch} | {med:,.0f} | {min(wall):,.0f} – {max(wall):,.0f} | "
              f"{1000 * batch / med:.2f} | {cpu:,.0f} |")
    print(f"\n{provenance.stamp()} (at the end; above the core count, other processes shared the "
          f"cores and the wall-clock rates drop)")


if __name__ == "__main__":
    main()
