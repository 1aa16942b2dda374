"""docs/hooks.py, the documentation build's hook: the equations are rendered to SVG at build time
(docs/tex2svg.js, MathJax 3 under node), so the site needs neither JavaScript nor a network to show them,
and a formula that does not render stops the build instead of reaching the page as TeX source."""

import importlib.util
import pathlib
import re
import shutil

import pytest

pytest.importorskip("mkdocs", reason="requirements-docs.txt installs the documentation builder")
markdown = pytest.importorskip("markdown", reason="requirements-docs.txt installs the documentation builder")

from mkdocs.exceptions import PluginError  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
needs_mathjax = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "node_modules" / "mathjax-full").is_dir(),
    reason="./setup.sh installs node's mathjax-full (npm ci)")


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks_under_test", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_mkdocs_renders(text):
    """Markdown to HTML with the site's math extension, configured as mkdocs.yml configures it."""
    assert re.search(r"pymdownx\.arithmatex:\s*\n\s*generic: true", (REPO / "mkdocs.yml").read_text())
    return markdown.markdown(text, extensions=["pymdownx.arithmatex"],
                             extension_configs={"pymdownx.arithmatex": {"generic": True}})


def test_the_site_loads_no_script_from_the_network():
    """mkdocs.yml lists no remote asset (MathJax came from a CDN; offline the equations showed as TeX)."""
    config = (REPO / "mkdocs.yml").read_text()
    assert not re.search(r"^\s*-\s*(?:https?:)?//", config, re.MULTILINE)
    assert "mathjax@" not in config.lower()


@needs_mathjax
def test_the_method_page_renders_every_equation_to_svg(hooks):
    """docs/explanation/method.md: each $$ block becomes one SVG with its \\tag number; no TeX is left."""
    text = (REPO / "docs" / "explanation" / "method.md").read_text()
    tags = re.findall(r"\\tag\{(\d+)\}", text)
    assert len(tags) == text.count("$$") // 2 >= 5
    page = hooks.render_math(as_mkdocs_renders(text), where="method.md")
    assert page.count("<mjx-container") == len(tags)   # one SVG each (tagged ones nest SVGs inside)
    assert page.count('<mjx-container class="MathJax" jax="SVG" display="true"') == len(tags)
    assert "\\mathbf" not in page and "$$" not in page and "\\[" not in page
    assert page.startswith("<style>") and 'mjx-container[jax="SVG"]' in page
    assert 'fill="currentColor"' in page   # the formulas take the text colour: readable in dark mode too


@needs_mathjax
def test_inline_math_and_html_entities(hooks):
    page = hooks.render_math(as_mkdocs_renders("where $a < b$ and $x^2$ hold"), where="inline")
    assert page.count('<mjx-container class="MathJax" jax="SVG">') == 2 and "a < b" not in page


@needs_mathjax
def test_invalid_tex_stops_the_build_naming_the_formula(hooks):
    with pytest.raises(PluginError, match=r"bad\.md: TeX error in .*\\frac\{1\}.*brace"):
        hooks.render_math(as_mkdocs_renders("$$\n\\frac{1}{2\n$$"), where="bad.md")


def test_tex_left_outside_the_math_markup_stops_the_build(hooks):
    with pytest.raises(PluginError, match=r"x\.md: TeX left unrendered near '\$\$ a"):
        hooks.render_math("<p>$$ a + b $$</p>", where="x.md")
    # in code, a script or a style it is not math
    assert hooks.render_math("<pre><code>$$ a $$ \\(b\\)</code></pre><script>x='\\\\('</script>") \
        == "<pre><code>$$ a $$ \\(b\\)</code></pre><script>x='\\\\('</script>"


def test_math_without_node_says_what_to_install(hooks, monkeypatch):
    monkeypatch.setattr(hooks.shutil, "which", lambda name: None)
    with pytest.raises(PluginError, match=r"m\.md has math: .*node.*mathjax-full.*setup\.sh"):
        hooks.render_math(as_mkdocs_renders("$x$"), where="m.md")
    assert hooks.render_math("<p>no math</p>") == "<p>no math</p>"   # pages without math need no node
