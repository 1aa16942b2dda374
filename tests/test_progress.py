"""progress: the library's bars obey TQDM_DISABLE as it is when a bar is made, not when tqdm was
imported (tqdm itself reads it once, at import: here it is imported before any test runs)."""

import tqdm.auto  # noqa: F401  (imported first, as TensorFlow Datasets or keras-tuner would)

from tf_dpvae.cli.parsing import progress_bars
from tf_dpvae.progress import bar, bars_disabled


def _drawn(capsys) -> str:
    for _ in bar(range(3), desc="work"):
        pass
    return capsys.readouterr().err


def test_bars_disabled_reads_the_variable_at_each_call(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bars_disabled()
    for value in ("1", "true", "YES", " on "):
        monkeypatch.setenv("TQDM_DISABLE", value)
        assert bars_disabled(), value
    for value in ("0", "", "false"):
        monkeypatch.setenv("TQDM_DISABLE", value)
        assert not bars_disabled(), value


def test_a_bar_is_drawn_unless_the_variable_is_set_when_it_is_made(monkeypatch, capsys):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert "work" in _drawn(capsys)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert _drawn(capsys) == ""


def test_no_progress_silences_the_library_after_tqdm_was_imported(monkeypatch, capsys):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with progress_bars(False):
        assert _drawn(capsys) == ""
    assert "work" in _drawn(capsys)   # restored afterwards


def test_an_explicit_disable_wins(monkeypatch, capsys):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    for _ in bar(range(3), desc="work", disable=True):
        pass
    assert capsys.readouterr().err == ""
