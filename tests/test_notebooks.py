"""The notebooks in notebooks/ execute without error at their small settings (``TF_DPVAE_NOTEBOOK_SMALL=1``)
and show what they are about: figures, the leakage table, TensorBoard, the reload check of the sampler.

The three run in one kernel, one after the other, each from an empty namespace (``%reset -f`` first):
TensorFlow and the package are then imported once instead of three times (about 9 s of CPU saved).
Every run writes under a temporary directory (``TF_DPVAE_NOTEBOOK_OUT``); the executed copies stay in
memory (and in the temporary directory, for a failure's post-mortem), never over the saved notebooks.

The saved copies are checked without executing them: they import the package as installed (no
``sys.path`` or working-directory tricks), hold no machine path, and every number their text states is one
their own cells printed (``test_markdown_numbers_are_printed_by_the_cells``).

Run alone: ``python -m pytest -q -n 0 tests/test_notebooks.py``.
"""

import json
import os
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat", reason="requirements-dev.txt installs the notebook tools")
nbclient = pytest.importorskip("nbclient", reason="requirements-dev.txt installs the notebook tools")
pytest.importorskip("ipykernel", reason="requirements-dev.txt installs the notebook tools")

from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
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


def saved(name):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


# a path on someone's machine: a root directory that holds users' or temporary files, or a Windows drive
# (not preceded by a word character, a dot or "$", so URLs, "$PWD/runs" and "/models/dpvae" in a container
# are not machine paths)
MACHINE_PATH = re.compile(r"(?<![\w.$}])/(?:work|tmp|home|root|Users|mnt|var|opt|srv|scratch|private|data)/"
                          r"|\b[A-Za-z]:\\")
# what makes a notebook depend on where it runs instead of importing the installed package
PATH_TRICKS = re.compile(r"sys\.path\.(?:insert|append)|os\.chdir|^\s*%cd\b", re.MULTILINE)


def test_notebooks_import_the_installed_package():
    """No ``sys.path`` edits, no ``os.chdir``, no absolute machine path in any cell's source."""
    for name in NAMES:
        for i, cell in enumerate(saved(name).cells):
            assert not PATH_TRICKS.search(cell.source), f"{name} cell {i}: {PATH_TRICKS.search(cell.source)[0]}"
            assert not MACHINE_PATH.search(cell.source), f"{name} cell {i}: a machine path"


def test_saved_outputs_hold_no_machine_path():
    """Every saved output (text, HTML, errors) and the metadata: no path of the machine that ran it.
    Images are skipped (base64 can spell anything)."""
    for name in NAMES:
        nb = saved(name)
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                o = {k: v for k, v in o.items() if k != "data"} | {
                    "data": {k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")}}
                found = MACHINE_PATH.search(json.dumps(o, ensure_ascii=False))
                near = found.string[found.start() - 60:found.end() + 60] if found else ""
                assert not found, f"{name}: an output holds a machine path: {near}"
        found = MACHINE_PATH.search(json.dumps(nb.metadata, ensure_ascii=False))
        assert not found, f"{name}: its metadata holds a machine path"


# A number in the notebooks' text must be one their cells print. Allowed without that, because they name
# something instead of measuring or setting it: references into the paper and other documents ("Fig. 5",
# "eq. (6)", "§4.1", "Table 1"), the numbers of a numbered list, years of citations, the Gaussian N(·; 0, I),
# the loopback address and TF Serving's fixed ports; commands in fenced code blocks are examples, not claims.
NAMING = re.compile(r"```.*?```|^\s*\d+\.\s"
                    r"|(?:\b(?:Figs?|eqs?|Table)\.?|§)\s*\(?\d+(?:\.\d+)*\)?"
                    r"|\b(?:ACCV|Mnih|al\.,?)\s+(?:19|20)\d\d\b"
                    r"|\b0, I\)|\b127\.0\.0\.1\b|\b850[01]\b", re.DOTALL | re.MULTILINE)
NUMBER = re.compile(r"(?<![\w.,])[-−]?\d+(?:,\d{3})*(?:\.\d+)?(?!\w)")


def numbers(string):
    """The numbers written in ``string`` as floats (thousands separators and the minus sign normalized)."""
    return {float(m.replace(",", "").replace("−", "-")) for m in NUMBER.findall(string)}


def printed(cells):
    """Every number the code cells among ``cells`` printed or returned (text, not images)."""
    found = set()
    for cell in cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else ():
            found |= numbers(o.get("text", "") + o.get("data", {}).get("text/plain", ""))
    return found


def test_markdown_numbers_are_printed_by_the_cells():
    """Each number a markdown cell states appears in the saved outputs of its own section (from its
    ``#`` heading to the next; the title's section is the whole notebook), so a setting or result quoted
    in the text cannot drift from what the cells compute (e.g. a stale "25 epochs, the CLI default")."""
    assert numbers("β = 5, 1,080 steps, −44 and 0.811; Fig. 5") == {5.0, 1080.0, -44.0, 0.811, 5.0}
    assert numbers(NAMING.sub(" ", "eq. (6), Fig. 1, §4.1, N(0, I), N(g(z); 0, I), ACCV 2020, 2 more")) == {2.0}
    for name in NAMES:
        cells = saved(name).cells
        starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("#")]
        for i, cell in enumerate(cells):
            if cell.cell_type != "markdown":
                continue
            start = max(s for s in starts if s <= i)
            end = min([s for s in starts if s > start] + [len(cells)])
            section = cells if start == 0 else cells[start:end]
            missing = numbers(NAMING.sub(" ", cell.source)) - printed(section)
            assert not missing, (f"{name} cell {i}: the text states {sorted(missing)}, which no cell of its "
                                 f"section printed")


def images(nb):
    return [o for o in outputs(nb) if "image/png" in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """name → the notebook executed at its small settings, all three in one kernel."""
    tmp = tmp_path_factory.mktemp("notebooks")
    kernel = KernelManager(kernel_name="python3")
    # PYTHONPATH: the kernel imports the checkout under test. The notebooks `import tf_dpvae` as installed,
    # and an editable install may point at another checkout of the repository (a git worktree sharing
    # one virtual environment); in CI the installed package is this checkout, and this changes nothing.
    # The kernel starts in notebooks/, where Jupyter starts a notebook's kernel.
    kernel.start_kernel(cwd=str(NOTEBOOK_DIR), env={
        **os.environ, "TF_DPVAE_NOTEBOOK_SMALL": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    done = {}
    try:
        # the kernel imports the package from the checkout under test (see PYTHONPATH above)
        probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "import pathlib, tf_dpvae; print(pathlib.Path(tf_dpvae.__file__).resolve().parents[1])")])
        nbclient.NotebookClient(probe, km=kernel, timeout=CELL_TIMEOUT).execute()
        assert text(probe).strip() == str(ROOT), text(probe)
        for name in NAMES:
            nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
            out = tmp / name
            # an empty namespace and the notebook's own output directory (the notebooks change no
            # directory, so the kernel stays in notebooks/)
            nb.cells.insert(0, nbformat.v4.new_code_cell(
                f"%reset -f\nimport os\nos.environ['TF_DPVAE_NOTEBOOK_OUT'] = {str(out)!r}"))
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
