"""docs/gen_pages.py, the generator of the documentation's results and command-line pages: every
result file states where it came from, a hand-written reading says when its numbers have moved on,
and the command-line reference has every flag of every command the dispatcher lists."""

import argparse
import importlib.util
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def gen(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("docs_gen_pages_under_test", REPO / "docs" / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(__import__("sys").modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DOCS", tmp_path / "docs")   # never write into the checkout's docs/
    return module


def test_every_result_file_states_its_command_or_commit(gen):
    """The results pages show each file's provenance: a file without it would be a page of numbers
    from nowhere (the page would carry a warning; this test keeps it from getting that far)."""
    files = [p for p in (REPO / "results").rglob("*.md") if p.name != "reading.md"]
    assert files
    missing = [str(p.relative_to(REPO)) for p in files if gen.provenance_of(p.read_text()).commit is None]
    assert missing == []


def test_provenance_lines_of_benchmarks_and_tables_are_read(gen):
    bench = "`benchmarks/moons.py --seeds 0 1`, 2026-12-02 18:13 UTC, commit 6083854 (at the start), load 4"
    assert gen.provenance_of(bench) == gen.Provenance("benchmarks/moons.py --seeds 0 1", "2026-12-02 18:13 UTC",
                                                      "6083854")
    table = "# Table 1\n\nCommit `56e6a85abc+dirty`; written 2026-11-25 11:03 UTC; 24 of 24 models evaluated"
    p = gen.provenance_of(table)
    assert (p.command, p.date, p.commit) == (None, "2026-11-25 11:03 UTC", "56e6a85abc+dirty")
    assert gen.provenance_of("| a |\n|---|\n| 1 |\n") == gen.Provenance()


def test_a_reading_written_for_another_commit_is_flagged(gen, tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "x.md").write_text("`benchmarks/x.py`, 2026-12-05 10:00 UTC, commit abcdef1 (at the start)\n")
    (d / "reading.md").write_text("<!-- reads: x.md at commit 1234567 -->\n\nIt says 1.\n")
    stale = "\n".join(gen.reading_section(d))
    assert "!!! warning" in stale and "1234567" in stale and "abcdef1" in stale and "It says 1." in stale
    (d / "reading.md").write_text("<!-- reads: x.md at commit abcdef1 -->\n\nIt says 1.\n")
    current = "\n".join(gen.reading_section(d))
    assert "warning" not in current and "the version shown above" in current


def test_the_cli_reference_has_every_command_and_flag(gen):
    from tf_dpvae.cli import main as dispatcher

    pages = dict((title, path) for title, path in gen.cli_reference())
    assert sorted(pages) == sorted(dispatcher.COMMANDS)
    for name in dispatcher.COMMANDS:
        text = (gen.DOCS / pages[name]).read_text()
        parsers = [gen.load_parser(name)]
        while parsers:
            parser = parsers.pop()
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    parsers.extend(action.choices.values())
                elif action.help != argparse.SUPPRESS:
                    for option in action.option_strings:
                        assert f"`{option}`" in text, (name, option)
    index = (gen.DOCS / "reference" / "cli" / "index.md").read_text()
    assert all(f"[`{name}`]({name}.md)" in index for name in dispatcher.COMMANDS)
