"""The import direction: no cycle between the package's modules, ``plots`` imports nothing of
``evaluation``, and nothing in the library imports a command module.

The graph is read from the source with ``ast`` (every ``import``/``from`` of ``tf_dpvae``, at any
depth, including imports inside functions), so nothing is imported to check it. A module's node is
its file: ``tf_dpvae.evaluation`` is ``evaluation/__init__.py``.

Run alone: ``python -m pytest -q -n 0 tests/test_imports.py``.
"""

import ast
import pathlib

import tf_dpvae

ROOT = pathlib.Path(tf_dpvae.__file__).parent
# the python -m shims over tf_dpvae.cli: command modules too
SHIMS = {"tf_dpvae.train", "tf_dpvae.tune", "tf_dpvae.evaluate", "tf_dpvae.features",
         "tf_dpvae.reproduce", "tf_dpvae.retrofit", "tf_dpvae.export.__main__"}


def module_name(path: pathlib.Path) -> str:
    parts = ("tf_dpvae",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports (``from a import b`` counts b if it is a module,
    and a's package ``__init__`` always)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if not target.startswith("tf_dpvae"):
                continue
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                # the root __init__ imports nothing of ours (test below): an edge to it says nothing. Nor does an
                # edge to one's own ancestor package: Python has run (or is running) a package's
                # __init__ before any of its submodules, so a.b.c naming a.b.d adds no order.
                ancestor = name.startswith(candidate + ".")
                if candidate in modules and candidate not in (name, "tf_dpvae") and not ancestor:
                    found.add(candidate)
    return found


def graph() -> dict[str, set[str]]:
    paths = [p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules, or None (depth-first search with colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_walk_sees_known_edges():
    edges = graph()
    assert "tf_dpvae.config" in edges["tf_dpvae.cli.train"]
    assert "tf_dpvae.summaries" in edges["tf_dpvae.training"]
    assert "tf_dpvae.plots" in edges["tf_dpvae.summary_images"]
    assert "tf_dpvae.evaluation.frechet" in edges["tf_dpvae.tuning.frechet_objectives"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_modules():
    assert find_cycle(graph()) is None


def test_no_import_cycle_between_packages_and_top_level_modules():
    """Collapsed to the package's first level (tf_dpvae.evaluation.run -> tf_dpvae.evaluation); the
    ``python -m`` shims count as the command package they forward to (``export/__main__.py`` is a
    command module that happens to live in ``export/``)."""

    def top(name):
        return "tf_dpvae.cli" if name in SHIMS else ".".join(name.split(".")[:2])

    collapsed: dict[str, set[str]] = {}
    for source, targets in graph().items():
        collapsed.setdefault(top(source), set()).update(top(t) for t in targets if top(t) != top(source))
    assert find_cycle(collapsed) is None


def test_plots_imports_nothing_of_evaluation():
    assert not any(t.startswith("tf_dpvae.evaluation") for t in graph()["tf_dpvae.plots"])


def test_config_imports_only_the_error_base_and_errors_nothing():
    edges = graph()
    assert edges["tf_dpvae.config"] == {"tf_dpvae.errors"}
    assert edges["tf_dpvae.errors"] == set()
    # the post-hoc prior's settings: of the settings layer too (runs and model read them)
    assert edges["tf_dpvae.post_hoc_config"] == {"tf_dpvae.config", "tf_dpvae.errors"}
    # the root __init__ imports nothing of the package at module level (its public names load on
    # first use, issue 24), so an edge to it still says nothing
    top = [n for n in ast.parse((ROOT / "__init__.py").read_text()).body
           if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in top if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tf_dpvae")]
    assert not [a.name for n in top if isinstance(n, ast.Import) for a in n.names if a.name.startswith("tf_dpvae")]


def test_nothing_in_the_library_imports_a_command():
    for source, targets in graph().items():
        if source.startswith("tf_dpvae.cli") or source in SHIMS:
            continue
        commands = {t for t in targets if t.startswith("tf_dpvae.cli") or t in SHIMS}
        assert not commands, (source, commands)


# The layers below the experiments (docs/architecture.md): none of them imports tf_dpvae.experiments.
BELOW_EXPERIMENTS = ("tf_dpvae.config", "tf_dpvae.post_hoc_config", "tf_dpvae.errors",
                     "tf_dpvae.json_files", "tf_dpvae.runs",
                     "tf_dpvae.checkpoints", "tf_dpvae.data", "tf_dpvae.datasets", "tf_dpvae.networks",
                     "tf_dpvae.priors", "tf_dpvae.regularizers", "tf_dpvae.model", "tf_dpvae.training",
                     "tf_dpvae.training_callbacks",
                     "tf_dpvae.evaluation", "tf_dpvae.post_hoc",
                     "tf_dpvae.plots", "tf_dpvae.summaries", "tf_dpvae.summary_images", "tf_dpvae.export")


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_experiments_sit_above_training_and_evaluation():
    edges = graph()
    assert "tf_dpvae.training" in edges["tf_dpvae.experiments.cell"]
    assert "tf_dpvae.evaluation.run" in edges["tf_dpvae.experiments.cell"]
    for source, targets in edges.items():
        if _under(source, BELOW_EXPERIMENTS):
            assert not any(t.startswith("tf_dpvae.experiments") for t in targets), source
    # above them only the commands, explore (a notebook's view) and the tuner's pair (the one pair)
    importers = {s for s, t in edges.items() if not s.startswith("tf_dpvae.experiments")
                 and any(x.startswith("tf_dpvae.experiments") for x in t)}
    assert importers <= {"tf_dpvae.cli.reproduce", "tf_dpvae.explore", "tf_dpvae.tuning.pair"}, importers


def test_the_run_layout_and_the_checks_import_nothing_above_them():
    edges = graph()
    assert edges["tf_dpvae.json_files"] == {"tf_dpvae.config"}
    assert not {t for t in edges["tf_dpvae.runs"]
                if _under(t, ("tf_dpvae.training", "tf_dpvae.evaluation", "tf_dpvae.experiments"))}


def test_the_callbacks_sit_below_the_fit_loop():
    """``training`` joins data and model; the callbacks it builds (``training_callbacks``, and the
    TensorBoard ones of ``summaries`` and ``summary_images``) are a layer below it: they import
    neither ``training`` nor ``data``, nor anything above the model."""
    edges = graph()
    below_fit = ("tf_dpvae.training_callbacks", "tf_dpvae.summaries", "tf_dpvae.summary_images")
    assert set(below_fit) <= edges["tf_dpvae.training"]
    above = ("tf_dpvae.training", "tf_dpvae.data", "tf_dpvae.datasets", "tf_dpvae.evaluation",
             "tf_dpvae.post_hoc", "tf_dpvae.tuning", "tf_dpvae.experiments", "tf_dpvae.export")
    for module in below_fit:
        assert not {t for t in edges[module] if _under(t, above)}, module


def test_the_experiments_import_tensorflow_only_in_the_cell():
    """At module level, only ``experiments/cell.py`` imports TensorFlow (directly or through a
    module that does): the command line builds and checks a table's request before TensorFlow
    loads. Function-level imports are not module level."""
    heavy = ("tensorflow", "keras", "tf_dpvae.training", "tf_dpvae.evaluation.run", "tf_dpvae.checkpoints",
             "tf_dpvae.model", "tf_dpvae.plots", "tf_dpvae.post_hoc")
    for path in sorted((ROOT / "experiments").glob("*.py")):
        if path.name == "cell.py":
            continue
        top = [n for n in ast.parse(path.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top for a in n.names if isinstance(n, ast.Import)]
        names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        names += [f"{n.module}.{a.name}" for n in top if isinstance(n, ast.ImportFrom) for a in n.names]
        assert not [m for m in names if _under(m, heavy)], path.name


def test_post_hoc_priors_and_the_frechet_objectives_have_one_importer_each():
    """The post-hoc priors are joined by the retrofit command, Table 1 and the public Python API's
    ``retrofit_run`` only (nothing below imports them: a retrofitted run is read through
    runs.load_run); the Fréchet tuning objectives by the
    tuner's objective registry only (they load TensorFlow when chosen)."""
    edges = graph()

    def importers(prefix):
        return {s for s, t in edges.items() if not _under(s, (prefix,)) and any(_under(x, (prefix,)) for x in t)}

    assert "tf_dpvae.evaluation.sampling" in edges["tf_dpvae.post_hoc.retrofit"]
    assert importers("tf_dpvae.post_hoc") == {"tf_dpvae.cli.retrofit", "tf_dpvae.experiments.table1",
                                              "tf_dpvae.api"}
    assert importers("tf_dpvae.tuning.frechet_objectives") == {"tf_dpvae.tuning.objectives"}
