"""Generate the documentation pages that must never be typed by hand.

    python docs/gen_pages.py        # what the mkdocs hook (docs/hooks.py) runs before every build

Writes, under docs/ (all listed in docs/.gitignore, none committed):

    tutorials/*.ipynb        copies of notebooks/*.ipynb (rendered by mkdocs-jupyter, not executed)
    reference/cli/*.md       one page per command of the dispatcher ``tf_dpvae.cli.main.COMMANDS``: its
                             usage, every flag from its argparse parser (group, value, default, help) and
                             the ``--help`` text verbatim
    results/*.md, results/assets/
                             one page per result in results/ at build time: Table 1 directories
                             (``table1.md``), the flow screen, the flow tails, disentanglement, moons,
                             performance, TensorBoard screenshots, and any other directory. Each page
                             names its source file and the command, date and commit that file states
                             (its provenance line, kept verbatim in the page too), and embeds the
                             directory's figures.

Nothing here is a number typed by hand: every table is the source file's, copied. A source file that
states no provenance gets a visible warning on its page instead of an invented one. Files are rewritten
only when their content changes, so ``mkdocs serve`` does not rebuild in a loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import json
import os
import re
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "results"
PROG = "tf-dpvae"


# ---------------------------------------------------------------------------------------------- files
def write_if_changed(path: Path, text: str | bytes) -> None:
    """Write ``path`` (atomically: a temporary file renamed) unless it already holds ``text``."""
    data = text.encode() if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ------------------------------------------------------------------------------------------ tutorials
def tutorials() -> list[str]:
    """Copy notebooks/*.ipynb to docs/tutorials/ (mkdocs-jupyter renders them without executing)."""
    written = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        write_if_changed(DOCS / "tutorials" / nb.name, nb.read_bytes())
        written.append(nb.name)
    return written


# ------------------------------------------------------------------------------------ CLI reference
def md_escape(text: str) -> str:
    """Help text as Markdown table-cell text: no HTML, no emphasis, no cell breaks, no math."""
    text = " ".join(str(text).split())
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("*", "\\*"),
                 ("_", "\\_"), ("$", "\\$"), ("[", "\\["), ("]", "\\]")):
        text = text.replace(a, b)
    return text


def code(text: str) -> str:
    """Inline code that survives a table cell (pipes escaped; backticks doubled where present)."""
    text = str(text).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def default_text(action: argparse.Action) -> str:
    d = action.default
    if d is argparse.SUPPRESS or isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return ""
    if isinstance(action, argparse._StoreFalseAction):   # --no-export: dest True means "not given"
        return "off" if d else "on"
    if action.nargs == 0:   # store_true, and --x/--no-x pairs: the setting's default
        return "on" if d else "off"
    if d is None:
        return "—"
    if isinstance(d, (list, tuple)):
        return code(" ".join(str(v) for v in d)) if d else "(none)"
    return code(d)


def value_text(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        value = "{" + ",".join(str(c) for c in action.choices) + "}"
    else:
        value = action.metavar or action.dest.upper()
        if isinstance(value, tuple):
            value = " ".join(value)
    if action.nargs in ("+", "*"):
        value += " ..."
    return code(value)


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    formatter = parser._get_formatter()
    try:
        expanded = formatter._expand_help(action)   # %(default)s and friends, as --help prints them
    except (KeyError, TypeError, ValueError):
        expanded = action.help
    return md_escape(expanded)


def full_help(parser: argparse.ArgumentParser) -> str:
    """``--help`` as a terminal 100 columns wide prints it (fixed, so the page does not depend on
    the terminal the docs were built in)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        buf = io.StringIO()
        with redirect_stdout(buf):
            parser.print_help()
        return buf.getvalue()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def parser_section(parser: argparse.ArgumentParser, level: int) -> list[str]:
    """The flag tables of ``parser`` (one per argument group), then its subcommands recursively."""
    h = "#" * level
    out = []
    if parser.description:
        out += [md_escape(parser.description), ""]
    subparsers = []   # (the usage line is in the verbatim --help at the end of the page)
    for group in parser._action_groups:
        rows = []
        for action in group._group_actions:
            if isinstance(action, argparse._SubParsersAction):
                subparsers.append(action)
                continue
            if action.help == argparse.SUPPRESS:
                continue
            names = ", ".join(code(s) for s in action.option_strings) or code(action.metavar or action.dest)
            rows.append(f"| {names} | {value_text(action)} | {default_text(action)} | "
                        f"{help_text(parser, action)} |")
        if rows:
            title = group.title or "arguments"
            out += [f"{h} {title}", "",
                    "| flag | value | default | what it sets |", "|---|---|---|---|", *rows, ""]
    for action in subparsers:
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            out += [f"{h} `{name}`", ""]
            if helps.get(name):
                out += [md_escape(helps[name]), ""]
            out += parser_section(sub, level + 1)
    if parser.epilog:
        out += [f"{h} Examples and notes", "", "```text", parser.epilog.strip(), "```", ""]
    return out


def load_parser(name: str):
    """``build_parser`` of command ``name``, named as the console script names it."""
    module = importlib.import_module(f"tf_dpvae.cli.{name}")
    try:
        return module.build_parser(prog=f"{PROG} {name}")
    except TypeError:   # a build_parser without the prog argument
        return module.build_parser()


def cli_reference() -> list[tuple[str, str]]:
    """docs/reference/cli/{index,<command>}.md from the dispatcher and each command's parser."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tf_dpvae.cli import main as dispatcher

    pages = []
    index = ["# Command line", "",
             "Generated by `docs/gen_pages.py` from the commands' own argparse parsers at build time: "
             "what `--help` prints, as tables. The dispatcher `tf_dpvae/cli/main.py` lists the commands; "
             f"`{PROG} COMMAND ...` is the same as `python -m tf_dpvae.COMMAND ...`.", "",
             "```text", full_help(dispatcher.build_parser()).strip(), "```", "",
             "| command | what it does |", "|---|---|"]
    for name, summary in dispatcher.COMMANDS.items():
        index.append(f"| [`{name}`]({name}.md) | {md_escape(summary)} |")
        parser = load_parser(name)
        page = [f"# `{PROG} {name}`", "", f"*{md_escape(summary)}.* Also `python -m tf_dpvae.{name}`. "
                "Generated from the command's parser (`tf_dpvae/cli/" + name + ".py`).", ""]
        page += parser_section(parser, 2)
        page += ["## `--help`, verbatim", "", "```text", full_help(parser).rstrip(), "```", ""]
        write_if_changed(DOCS / "reference" / "cli" / f"{name}.md", "\n".join(page))
        pages.append((f"{name}", f"reference/cli/{name}.md"))
    write_if_changed(DOCS / "reference" / "cli" / "index.md", "\n".join(index) + "\n")
    return pages


# ------------------------------------------------------------------------------------------ results
@dataclasses.dataclass
class Provenance:
    command: str | None = None
    date: str | None = None
    commit: str | None = None
    note: str | None = None     # where a part of it came from, when not from the file's own line


# "`CMD`, 2026-12-04 12:20 UTC, commit e85db9c (at the start), ..." (benchmarks/provenance.py), also
# after "Printed by ".
BENCH_LINE = re.compile(r"^(?:Printed by )?`(?P<cmd>[^`]+)`,\s*(?P<date>\d{4}-\d\d-\d\d[ T][\d:]+(?: UTC)?),"
                        r"\s*commit (?P<commit>[0-9a-f]{7,40}(?:\+\w+)?)")
# "Commit `56e6a85...`; written 2026-11-25 11:03 UTC" (experiments/render.py's Table 1 header)
TABLE_LINE = re.compile(r"^Commit `(?P<commit>[^`]+)`; written (?P<date>[^;]+);")


def provenance_of(text: str) -> Provenance:
    for line in text.splitlines()[:40]:
        line = line.strip()
        m = BENCH_LINE.match(line)
        if m:
            return Provenance(m["cmd"], m["date"], m["commit"])
        m = TABLE_LINE.match(line)
        if m:
            return Provenance(None, m["date"].strip(), m["commit"])
    return Provenance()


def table1_command(directory: Path) -> str | None:
    """The ``reproduce table1`` command equivalent to a table's recorded settings (table1.json)."""
    path = directory / "table1.json"
    if not path.exists():
        return None
    try:
        t = json.loads(path.read_text())
    except ValueError:
        return None
    proto = t.get("protocol", {})
    parts = [f"{PROG} reproduce table1"]
    if proto.get("dataset"):
        parts.append(f"--dataset {proto['dataset']}")
    if t.get("seeds") is not None:
        parts.append("--seeds " + " ".join(str(s) for s in t["seeds"]))
    if t.get("regs"):
        parts.append("--regs " + " ".join(t["regs"]))
    if proto.get("name"):
        parts.append(f"--protocol {proto['name']}")
    if t.get("overrides", {}).get("latent_dim") is not None:
        parts.append(f"--latent-dim {t['overrides']['latent_dim']}")
    overrides = proto.get("config_overrides") or []
    if overrides:   # [[SECTION.FIELD, VALUE], ...] (experiments/protocol.py)
        parts.append("--set " + " ".join(f"{key}={value}" for key, value in overrides))
    if "steps" in t.get("overrides", {}):
        parts.append(f"--steps {t['overrides']['steps']}")
    parts.append(f"--out {rel(directory)}")
    return " ".join(parts)


def provenance_box(source: Path, prov: Provenance) -> list[str]:
    lines = [f"!!! info \"Source: `{rel(source)}`\"", ""]
    if prov.command is None and prov.commit is None:
        lines = [f"!!! warning \"Source: `{rel(source)}` states no command, date or commit\"", "",
                 "    Its numbers are shown as the file has them; where they came from is not recorded.", ""]
        return lines
    if prov.command:
        lines.append(f"    - **command**: `{prov.command}`" + (f" ({prov.note})" if prov.note else ""))
    lines.append(f"    - **date**: {prov.date or 'not stated'}")
    lines.append(f"    - **commit**: `{prov.commit}`" if prov.commit else "    - **commit**: not stated")
    lines.append("")
    return lines


def shift_headings(text: str, drop_h1: bool = True, by: int = 1) -> tuple[str | None, str]:
    """(the first H1's text, ``text`` without it and with every other heading ``by`` levels deeper);
    headings inside code fences are left alone."""
    title, out, fenced = None, [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^(#{1,6}) (.*)$", line)
        if m and len(m[1]) == 1 and title is None and drop_h1:
            title = m[2].strip()
            continue
        if m:
            line = "#" * min(6, len(m[1]) + by) + " " + m[2]
        out.append(line)
    return title, "\n".join(out).strip() + "\n"


def copy_asset(path: Path) -> str:
    """Copy a figure into docs/results/assets/ (mirroring results/); its path relative to a page in
    docs/results/."""
    target = DOCS / "results" / "assets" / path.relative_to(RESULTS)
    write_if_changed(target, path.read_bytes())
    return "assets/" + path.relative_to(RESULTS).as_posix()


def link_local_files(text: str, directory: Path) -> str:
    """Turn links to files beside the source into links to their copies (figures) or to the
    repository path as code (anything else), so that no link of the page is broken."""
    def fix(m):
        label, target = m[1], m[2]
        if re.match(r"^[a-z]+://|^#", target):
            return m[0]
        path = (directory / target).resolve()
        if path.suffix.lower() == ".png" and path.exists() and RESULTS in path.parents:
            return f"[{label}]({copy_asset(path)})"
        if path.suffix == ".md" and path.exists() and RESULTS in path.parents:
            page = PAGE_OF.get(path)
            if page:
                return f"[{label}]({page})"
        try:
            shown = path.relative_to(ROOT).as_posix()
        except ValueError:
            shown = target
        return f"{label} (`{shown}`)"
    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", fix, text)


def figures_section(directory: Path, level: int = 2, skip=()) -> list[str]:
    pngs = [p for p in sorted(directory.glob("*.png")) if p not in skip]
    if not pngs:
        return []
    out = [f"{'#' * level} Figures", ""]
    for p in pngs:
        out += [f"**`{p.name}`**", "", f"![{p.stem}]({copy_asset(p)})", ""]
    return out


def source_section(path: Path, level: int, title: str | None = None) -> list[str]:
    """One results file as a section: heading, provenance box, its content verbatim (headings shifted)."""
    text = path.read_text()
    prov = provenance_of(text)
    if path.name == "table1.md" and prov.command is None:
        cmd = table1_command(path.parent)
        if cmd:
            prov.command, prov.note = cmd, "the equivalent of the settings recorded in `table1.json`"
    h1, body = shift_headings(text, by=level - 1)
    # "129.9 ± 0.46" stays on one line in a table cell (no-break spaces; the numbers are untouched)
    body = "\n".join(line.replace(" ± ", "\u00a0±\u00a0") if line.startswith("|") else line
                     for line in body.splitlines()) + "\n"
    heading = title or h1 or path.stem
    out = [f"{'#' * level} {heading}", ""] if level > 1 else []
    return out + provenance_box(path, prov) + [link_local_files(body, path.parent), ""]


READS = re.compile(r"<!--\s*reads:\s*(?P<file>\S+) at commit (?P<commit>[0-9a-f]{7,40})\s*-->")


def reading_section(directory: Path, level: int = 2) -> list[str]:
    """``reading.md`` beside a result: what the numbers say, written by hand for one version of the
    source file (its first line: ``<!-- reads: FILE at commit C -->``). When FILE now states another
    commit, the page says so above the reading, so that a reading never silently outlives its numbers."""
    path = directory / "reading.md"
    if not path.exists():
        return []
    text = path.read_text()
    m = READS.search(text)
    out = [f"{'#' * level} Reading", ""]
    if not m:
        out += ["!!! warning \"This reading does not say which version of the results it reads\"", ""]
    else:
        source = directory / m["file"]
        now = provenance_of(source.read_text()).commit if source.exists() else None
        if now is None or not (now.startswith(m["commit"]) or m["commit"].startswith(now.split("+")[0])):
            out += [f"!!! warning \"Written for `{m['file']}` at commit {m['commit']}; the file now states "
                    f"{now or 'no commit'}\"", "",
                    "    The numbers above are current; this text may not be. Read the tables.", ""]
        else:
            out += [f"*Written for `{m['file']}` at commit {m['commit']}, the version shown above.*", ""]
    _, body = shift_headings(READS.sub("", text), by=level)
    return out + [link_local_files(body, directory), ""]


PAGE_OF: dict[Path, str] = {}   # results file -> the generated page that shows it (for cross-links)


def classify(directory: Path) -> str:
    name = directory.name
    if (directory / "table1.md").exists():
        return "table1"
    if name.startswith("tensorboard"):
        return "tensorboard"
    if list(directory.glob("disentanglement*.md")):
        return "disentanglement"
    if "flow_screen" in name:
        return "flow_screen"
    if "flow_tails" in name:
        return "flow_tails"
    if name.startswith("moons"):
        return "moons"
    if name in ("performance", "throughput", "sampler") or name.startswith("performance"):
        return "performance"
    return "other"


def table1_title(directory: Path) -> str:
    name = directory.name
    try:
        t = json.loads((directory / "table1.json").read_text())
        d = t.get("overrides", {}).get("latent_dim") or t.get("protocol", {}).get("latent_dim") or 2
        regs, seeds = t.get("regs", []), t.get("seeds", [])
    except (OSError, ValueError):
        d, regs, seeds = "?", [], []
    # the words after the latent size name the variant: fashion_mnist_d10_affine → "affine"
    match = re.search(r"_d\d+_(.+)$", name)
    extra = match.group(1) if match else ""
    if "post_hoc" in name:
        return f"Post-hoc priors (Table 1 of {', '.join(regs)}, seed {', '.join(map(str, seeds))})"
    label = f"Table 1, d = {d}"
    if "steps" in name:
        label += f" ({name.split('_', 2)[-1].replace('_', ' ')})"
    elif extra:
        label += f" ({extra.replace('_', ' ')})"
    return label


def script_doc(*scripts: str) -> list[str]:
    """The docstrings of benchmarks/<script>.py, folded: how the page's numbers are measured, in the
    words of the script that measures them."""
    import ast
    out = []
    for name in scripts:
        path = ROOT / "benchmarks" / f"{name}.py"
        if not path.exists():
            continue
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if doc:
            out += [f"??? abstract \"How it is measured: `benchmarks/{name}.py`\"", "", "    ```text"]
            out += ["    " + line if line else "" for line in doc.splitlines()]
            out += ["    ```", ""]
    return out


def page_path(slug: str) -> str:
    return f"results/{slug}.md"


def results_pages() -> list[tuple[str, str]]:
    """docs/results/*.md: one page per kind of result found in results/ now."""
    if (DOCS / "results" / "assets").exists():
        shutil.rmtree(DOCS / "results" / "assets")   # figures of results that no longer exist go too
    dirs = sorted(p for p in RESULTS.iterdir() if p.is_dir()) if RESULTS.exists() else []
    kinds: dict[str, list[Path]] = {}
    for d in dirs:
        kinds.setdefault(classify(d), []).append(d)

    # Table 1 first: d = 2 main table, then d = 10, then variants; post-hoc separately
    def t1_key(d: Path):
        return ("post_hoc" in d.name, "steps" in d.name, "_d10" in d.name and d.name != "fashion_mnist_d10",
                "_d10" in d.name, d.name)
    plan: list[tuple[str, str, list[str]]] = []   # (nav title, page path, content)
    for d in sorted(kinds.get("table1", []), key=t1_key):
        slug = "table1-" + d.name.replace("_", "-")
        PAGE_OF[(d / "table1.md").resolve()] = f"{slug}.md"
    for d in kinds.get("flow_screen", []):
        for sub in d.glob("*/table1.md"):
            PAGE_OF[sub.resolve()] = "flow-screen.md"
    for d in kinds.get("flow_tails", []):
        for f in d.glob("*.md"):
            PAGE_OF[f.resolve()] = "flow-tails.md"

    for d in sorted(kinds.get("table1", []), key=t1_key):
        slug = "table1-" + d.name.replace("_", "-")
        title = table1_title(d)
        body = [f"# {title}", "", f"The whole of `{rel(d / 'table1.md')}` as `reproduce table1` wrote it.", ""]
        body += source_section(d / "table1.md", 1)
        body += reading_section(d)
        for extra in sorted(d.glob("*.md")):
            if extra.name not in ("table1.md", "reading.md"):
                body += source_section(extra, 2)
        body += figures_section(d)
        plan.append((title, page_path(slug), body))

    if kinds.get("flow_screen"):
        body = ["# The flow screen at d = 10", "",
                "Flow settings of the decoupled prior compared at latent size 10 (`benchmarks/flow_screen.py`); "
                "each setting's whole Table 1 follows, folded.", ""] + script_doc("flow_screen")
        for d in kinds["flow_screen"]:
            for f in sorted(d.glob("*.md")):
                body += source_section(f, 2, title=f"`{rel(f)}`")
            for sub in sorted(p for p in d.iterdir() if (p / "table1.md").exists()):
                inner = source_section(sub / "table1.md", 3, title="x")[2:]
                body += [f"??? note \"`{rel(sub / 'table1.md')}`\"", ""]
                body += ["    " + line if line else "" for line in inner]
                body.append("")
        plan.append(("Flow screen (d = 10)", page_path("flow-screen"), body))

    if kinds.get("flow_tails"):
        body = ["# Flow tails: where the flow sends N(0, I)'s tails", "",
                "Printed by `benchmarks/flow_tails.py RUN`: ‖g⁻¹(z0)‖ against the codes, the log-determinant "
                "per block, the dimensions that carry the tails, decoded samples at growing ‖z0‖.", ""]
        body += script_doc("flow_tails")
        for d in kinds["flow_tails"]:
            for f in sorted(d.glob("*.md")):
                png = f.with_suffix(".png")
                body += source_section(f, 2, title=f"`{f.stem}`")
                if png.exists():
                    body += [f"![{f.stem}]({copy_asset(png)})", ""]
        plan.append(("Flow tails", page_path("flow-tails"), body))

    scripts = {"moons": ("moons", "moons_variants", "moons_figure"), "disentanglement": ("disentanglement_table",),
               "performance": ("throughput", "sampler"), "other": ()}
    for kind, title, slug, intro in (
            ("moons", "Two moons", "moons", "Does the decoupled prior keep samples on the data? Two moons, "
             "the paper's Fig. 1, over seeds (`benchmarks/moons.py`, `benchmarks/moons_variants.py`)."),
            ("disentanglement", "Disentanglement", "disentanglement",
             "Does the decoupled prior hurt the representation? (`benchmarks/disentanglement_table.py`)"),
            ("performance", "Performance", "performance",
             "Where the time goes: training step, sampler, evaluation (`benchmarks/`)."),
            ("other", "Other results", "other", "Result directories that no page above shows.")):
        if not kinds.get(kind):
            continue
        body = [f"# {title}", "", intro, ""] + script_doc(*scripts[kind])
        for d in kinds[kind]:
            for f in sorted(d.rglob("*.md")):
                if f.name != "reading.md":
                    body += source_section(f, 2, title=f"`{rel(f)}`")
            body += reading_section(d)
            body += figures_section(d, level=2)
        plan.append((title, page_path(slug), body))

    if kinds.get("tensorboard"):
        body = ["# TensorBoard", "",
                "Screenshots drawn by headless Chromium from a tiny Table 1 on two moons "
                "(`benchmarks/tensorboard_screens.py`; see the how-to "
                "[Inspect runs in TensorBoard](../how-to/tensorboard.md)).", ""]
        for d in kinds["tensorboard"]:
            for f in sorted(d.glob("*.md")):
                body += source_section(f, 2)
            for p in sorted(d.glob("*.png")):
                body += [f"## {p.stem.replace('tensorboard_', '').capitalize()}", "",
                         f"![{p.stem}]({copy_asset(p)})", ""]
        plan.append(("TensorBoard", page_path("tensorboard"), body))

    index = ["# Results", "",
             "Every page here is generated at build time by `docs/gen_pages.py` from the files under "
             "`results/`: tables are copied from the files the scripts wrote, never typed, and each "
             "page names its source file and the command, date and commit that file states.", "",
             "| page | source |", "|---|---|"]
    for title, path, body in plan:
        # wide tables: the page's own table of contents gives its width to them
        write_if_changed(DOCS / path, "---\nhide:\n  - toc\n---\n\n" + "\n".join(body).rstrip() + "\n")
        sources = sorted({ln.split("`")[1] for ln in body if ln.lstrip().startswith(("!!! info", "??? note",
                                                                                       "!!! warning"))
                          and "`" in ln})
        shown = ", ".join(f"`{s}`" for s in sources[:4]) + (f" and {len(sources) - 4} more" if len(sources) > 4 else "")
        index.append(f"| [{title}]({Path(path).name}) | {shown} |")
    write_if_changed(DOCS / "results" / "index.md", "\n".join(index) + "\n")
    # pages of an earlier build whose source is gone
    keep = {Path(p).name for _, p, _ in plan} | {"index.md"}
    for old in (DOCS / "results").glob("*.md"):
        if old.name not in keep:
            old.unlink()
    return [(title, path) for title, path, _ in plan]


def generate() -> dict[str, list[tuple[str, str]]]:
    tutorials()
    return {"results": results_pages(), "cli": cli_reference()}


if __name__ == "__main__":
    pages = generate()
    for group, entries in pages.items():
        for title, path in entries:
            print(f"{group}: {path}  ({title})")
