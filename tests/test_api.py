"""The Python API of ``tf_dpvae`` (``tf_dpvae/api.py``, issue 24): ``import tf_dpvae`` without
TensorFlow, the README's Python quick start run as written, and runs trained on arrays, which record
where their data came from and are refused by evaluate and retrofit in one line.

Run alone: ``python -m pytest -q -n 0 tests/test_api.py``.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

import tf_dpvae

ROOT = pathlib.Path(__file__).resolve().parents[1]


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def quick_start() -> str:
    """The code block under the README's "Python quick start" heading, verbatim."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python quick start\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_loads_no_tensorflow_and_names_resolve_lazily():
    code = ("import sys, tf_dpvae\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "c = tf_dpvae.RunConfig(); s = tf_dpvae.EvalSettings(); p = tf_dpvae.PostHocConfig()\n"
            "assert 'tensorflow' not in sys.modules, 'the configuration classes loaded TensorFlow'\n"
            "print(tf_dpvae.__version__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == tf_dpvae.__version__


def test_public_names_are_not_shadowed_by_modules():
    """A public function named like a module of the package (``train``, ``export``) would be replaced
    by that module as soon as anything imports it."""
    modules = {p.stem for p in (ROOT / "tf_dpvae").iterdir() if p.suffix == ".py" or p.is_dir()}
    assert not set(tf_dpvae.__all__) & modules
    assert set(tf_dpvae.__all__) <= set(dir(tf_dpvae))
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        tf_dpvae.nosuch  # noqa: B018


def test_readme_python_quick_start_runs_as_written(tmp_path):
    code = quick_start()
    assert 10 <= len([line for line in code.splitlines() if line.strip()]) <= 20
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(),
                          cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best validation -ELBO:" in done.stdout and "IS-NLL:" in done.stdout
    assert (tmp_path / "runs" / "quickstart" / "eval" / "metrics.json").is_file()
    assert (tmp_path / "saved_models" / "quickstart" / "1" / "saved_model.pb").is_file()
    # the arrays are recorded as such, with their standardization, never as the default data set
    saved = json.loads((tmp_path / "runs" / "mine" / "config.json").read_text())
    assert saved["data"]["dataset"] == "arrays:data"
    assert saved["example"]["shape"] == [5] and len(saved["example"]["standardization"]["std"]) == 5
    # ... so evaluate refuses them in one line naming the run and what to do (retrofit too, for a
    # normal-prior run: test_cli_fuzz's retrofit_arrays_run; this dp run it refuses for its prior)
    for argv in (["evaluate", "runs/mine"],):
        refused = subprocess.run([sys.executable, "-m", "tf_dpvae.cli.main", *argv], capture_output=True,
                                 text=True, env=env(), cwd=tmp_path, timeout=300)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-3000:]
        assert "'runs/mine' was trained on arrays passed in Python (arrays:data)" in lines[0]
        assert "npz:data.npy" in lines[0]
    assert not (tmp_path / "runs" / "mine" / "eval").exists()


def test_sample_maps_vector_data_back_to_data_units(tmp_path):
    """``sample`` of a run trained on shifted, scaled vectors lands where the data is, not at 0."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal([100.0, -50.0], [10.0, 2.0], size=(400, 2))
    config = tf_dpvae.RunConfig().replace(
        prior={"kind": "normal"}, objective={"reg": "none"}, data={"num_examples": 400},
        model={"hidden_units": 16, "hidden_layers": 1}, train={"epochs": 1, "batch_size": 40})
    result = tf_dpvae.fit(config, out=str(tmp_path / "run"), data=x, name="shifted", log=lambda m: None)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["dataset"] == "arrays:shifted"
    points = tf_dpvae.sample(result, 200, seed=3)
    assert points.shape == (200, 2)
    assert np.all(np.abs(points.mean(axis=0) - [100.0, -50.0]) < [30.0, 6.0])
    raw = tf_dpvae.sample(result, 200, seed=3, data_units=False)
    assert np.all(np.abs(raw.mean(axis=0)) < 3.0)   # the standardized units the model works in
    again = tf_dpvae.sample(str(tmp_path / "run"), 200, seed=3)   # same seed, reloaded: same draw
    np.testing.assert_allclose(again, points, rtol=1e-4, atol=1e-3)
