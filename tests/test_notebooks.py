"""The notebooks in notebooks/ execute without error at their small settings (``TF_DPVAE_NOTEBOOK_SMALL=1``)
and show what they are about: figures, the leakage table, TensorBoard, the reload check of the sampler.

The three run in one kernel, one after the other, each from an empty namespace (``%reset -f`` first):
TensorFlow and the package are then imported once instead of three times (about 9 s of CPU saved).
Every run writes under a temporary directory (``TF_DPVAE_NOTEBOOK_OUT``); the executed copies stay in
memory (and in the temporary directory, for a failure's post-mortem), never over the saved notebooks.

Run alone: ``python -m pytest -q -n 0 tests/test_notebooks.py``.
"""

import json
import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat", reason="requirements-dev.txt installs the notebook tools")
nbclient = pytest.importorskip("nbclient", reason="requirements-dev.txt installs the notebook tools")
pytest.importorskip("ipykernel", reason="requirements-dev.txt installs the notebook tools")

from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_pockets_and_leaks", "02_fashion_mnist", "03_serving")
# The serving notebook exports the Factor-dpVAE run the Fashion-MNIST notebook trained instead of
# training its own (about 7 s of CPU saved; its own training is the same `training.fit` call).
INJECTED = {"03_serving": lambda tmp: f"RUN_DIR = {str(tmp / '02_fashion_mnist' / 'runs' / 'factor-dp-seed0')!r}"}
CELL_TIMEOUT = 300  # seconds per cell; the slowest cell takes about 40 s wall on a loaded machine


def outputs(nb, kind=None):
    """Every output of every code cell (of ``output_type`` kind, when given)."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if kind is None or o.output_type == kind]


def text(nb):
    return "".join(o.get("text", "") for o in outputs(nb, "stream"))


def images(nb):
    return [o for o in outputs(nb) if "image/png" in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """name → the notebook executed at its small settings, all three in one kernel."""
    tmp = tmp_path_factory.mktemp("notebooks")
    kernel = KernelManager(kernel_name="python3")
    kernel.start_kernel(cwd=str(NOTEBOOK_DIR), env={**os.environ, "TF_DPVAE_NOTEBOOK_SMALL": "1",
                                                    "TF_CPP_MIN_LOG_LEVEL": "3"})
    done = {}
    try:
        for name in NAMES:
            nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
            out = tmp / name
            # an empty namespace, the notebook's own directory, its own output directory
            nb.cells.insert(0, nbformat.v4.new_code_cell(
                f"%reset -f\nimport os\nos.chdir({str(NOTEBOOK_DIR)!r})\n"
                f"os.environ['TF_DPVAE_NOTEBOOK_OUT'] = {str(out)!r}"))
            if name in INJECTED:  # after the parameters cell, as papermill injects parameters
                at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
                nb.cells.insert(at + 1, nbformat.v4.new_code_cell(INJECTED[name](tmp)))
            client = nbclient.NotebookClient(nb, km=kernel, timeout=CELL_TIMEOUT, allow_errors=False)
            try:
                client.execute()
            finally:
                nbformat.write(nb, tmp / f"{name}.ipynb")  # executed copy, for a post-mortem
            done[name] = nb
    finally:
        kernel.shutdown_kernel(now=True)
    return done


def test_saved_notebooks_hold_their_full_settings_outputs():
    """The repository's copies were executed at the full settings, figures included."""
    for name in NAMES:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), name
        assert all(c.execution_count for c in code), f"{name}: a cell was not executed"
        assert not outputs(nb, "error"), name
        assert images(nb), f"{name}: no figure saved"
        assert "small settings" not in text(nb), f"{name}: saved from the small settings"


def test_pockets_and_leaks(executed):
    nb = executed["01_pockets_and_leaks"]
    # Fig. 1 of each model, Fig. 3 of each, Fig. 5 and log q along the paths, the leakage curves
    assert len(images(nb)) >= 7
    out = text(nb)
    assert "β-VAE" in out and "β-dpVAE" in out and "LS(τ=-4)" in out
    assert "flow     path: lowest log q(z)" in out


def test_fashion_mnist(executed):
    nb = executed["02_fashion_mnist"]
    assert len(images(nb)) >= 3  # training images, random vs LP samples, leakage curves
    out = text(nb)
    assert "FactorVAE" in out and "Factor-dpVAE" in out and "LP-FD" in out
    assert "small settings: training on the first 2,000" in out
    # %tensorboard embedded a server (not an error message) and the small settings stopped it
    frames = [o for o in outputs(nb, "display_data") if "text/html" in o.get("data", {})]
    assert any("tensorboard-frame" in o["data"]["text/html"] for o in frames)
    assert "stopped" in out


def test_serving(executed):
    nb = executed["03_serving"]
    assert images(nb)
    out = text(nb)
    assert "same seed, same images after a reload: True" in out
    assert "num_samples must be an integer in [1, 1000]" in out
    body = next(line for line in out.splitlines() if line.startswith('{"signature_name": "sample"'))
    assert json.loads(body) == {"signature_name": "sample",
                                "inputs": {"num_samples": 16, "seed": [1, 2], "temperature": 1.0}}
    assert "no server: client.sample(16, seed=(1, 2))" in out
