"""MkDocs hook: generate the pages of docs/gen_pages.py before every build, and put the generated
results and command pages into the navigation (their number depends on what results/ holds); render
every page's TeX to SVG (docs/tex2svg.js, MathJax 3 under node), so the built site shows its equations
without JavaScript and without a network."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

_GEN = Path(__file__).with_name("gen_pages.py")
_TEX2SVG = Path(__file__).with_name("tex2svg.js")
_MATHJAX = Path(__file__).resolve().parent.parent / "node_modules" / "mathjax-full"
# what pymdownx.arithmatex (generic mode) writes: \[…\] in a div (display), \(…\) in a span (inline)
_ARITHMATEX = re.compile(r'<(div|span) class="arithmatex">(.*?)</\1>', re.DOTALL)
# TeX that escaped arithmatex (a $$ block it did not recognize), outside code, scripts and styles
_CODE = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.DOTALL)
_LEFT_OVER = re.compile(r"\$\$|\\\[|\\\(|\\begin\{")


def _load():
    spec = importlib.util.spec_from_file_location("tf_dpvae_docs_gen_pages", _GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def on_config(config, **kwargs):
    pages = _load().generate()
    for section in config["nav"]:
        if not isinstance(section, dict):
            continue
        (title, entries), = section.items()
        if title == "Results":
            section[title] = ["results/index.md"] + [{t: p} for t, p in pages["results"]]
        elif title == "Reference":
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and "Command line" in entry:
                    entries[i] = {"Command line": ["reference/cli/index.md"]
                                  + [{t: p} for t, p in pages["cli"]]}
    return config


def render_math(page_html: str, where: str = "the page") -> str:
    """``page_html`` with the TeX of every arithmatex element replaced by MathJax's SVG (and MathJax's
    SVG style sheet once, at the top).

    Raises PluginError, which stops the build: when node or ``node_modules/mathjax-full`` is missing
    (``./setup.sh`` runs ``npm ci``), when a formula is not valid TeX, or when TeX is left outside
    arithmatex's markup (a ``$$`` block it did not recognize would otherwise show as source).
    """
    found = list(_ARITHMATEX.finditer(page_html))
    if found:
        formulas = []
        for m in found:
            tex = html.unescape(m.group(2)).strip()
            display = m.group(1) == "div"
            opening, closing = (r"\[", r"\]") if display else (r"\(", r"\)")
            if not (tex.startswith(opening) and tex.endswith(closing)):
                raise PluginError(f"{where}: unexpected arithmatex markup {m.group(0)[:80]!r}")
            formulas.append({"tex": tex[2:-2].strip(), "display": display})
        node = shutil.which("node")
        if node is None or not _MATHJAX.is_dir():
            raise PluginError(f"{where} has math: rendering it needs node and the npm package mathjax-full "
                              f"in node_modules/ (./setup.sh installs both: npm ci)")
        done = subprocess.run([node, str(_TEX2SVG)], input=json.dumps(formulas), capture_output=True,
                              text=True, cwd=_MATHJAX.parent.parent, timeout=120)
        if done.returncode != 0:
            raise PluginError(f"{where}: {done.stderr.strip() or 'docs/tex2svg.js failed'}")
        out = json.loads(done.stdout)
        pieces, at = [], 0
        for m, svg in zip(found, out["svg"], strict=True):
            pieces += [page_html[at:m.start(2)], svg]   # inside arithmatex's element: the theme's
            at = m.end(2)                               # styles (a wide formula scrolls) still apply
        page_html = f'<style>{out["css"]}</style>' + "".join(pieces) + page_html[at:]
    left = _LEFT_OVER.search(_CODE.sub("", page_html))
    if left:
        raise PluginError(f"{where}: TeX left unrendered near {left.string[left.start():left.start() + 60]!r}")
    return page_html


def on_page_content(html_text, page, **kwargs):
    return render_math(html_text, where=page.file.src_uri)
