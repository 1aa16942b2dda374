"""The Keras training loop's ms/step at one step per call against 50 (``steps_per_execution``), the
default two-moons Factor-dpVAE, no callbacks, one process, alternating; then one validation pass each.

    python benchmarks/steps_per_execution.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import provenance  # noqa: E402
import numpy as np  # noqa: E402
import time  # noqa: E402
from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae import data as data_lib, training  # noqa: E402
cfg = RunConfig().replace(objective={"reg":"factor"})
splits = data_lib.load(cfg.data, 0)
models = {}
for k in (1, 50):
    m = training.new_model(cfg, splits)
    m.monitor_steps()
    m.steps_per_execution = k
    tr, va = training.make_pipelines(cfg, splits, repeat=True)
    m.fit(tr, steps_per_epoch=100, epochs=1, verbose=0)  # trace
    models[k] = (m, tr, va)
res = {1: [], 50: [], "val1": [], "val50": []}
for r in range(3):
    for k, (m, tr, va) in models.items():
        t = time.perf_counter()
        m.fit(tr, steps_per_epoch=100, epochs=2, verbose=0)
        res[k].append((time.perf_counter() - t) / 200 * 1e3)
        t = time.perf_counter()
        m.evaluate(va, verbose=0)
        res[f"val{k}"].append(time.perf_counter() - t)
for k, v in res.items():
    print(k, "median %.2f" % np.median(v), ["%.2f" % x for x in v])
print(provenance.stamp())
