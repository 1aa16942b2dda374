import os

import pytest

from tf_dpvae.files import clean_stale_files, write_atomic


def test_write_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "result.json"
    write_atomic(str(path), "first")
    write_atomic(str(path), b"second")
    assert path.read_text() == "second"
    assert os.listdir(tmp_path) == ["result.json"]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_atomic(str(path), "kept")
    with pytest.raises(TypeError):
        write_atomic(str(path), 12345)  # not bytes: fails while writing
    assert path.read_text() == "kept"
    assert os.listdir(tmp_path) == ["result.json"]


def test_write_atomic_gives_0644_under_umask_022_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(str(tmp_path / "a.json"), "x")
        os.umask(0o077)
        write_atomic(str(tmp_path / "b.json"), "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600   # the umask is respected


def fill_with(files):
    def fill(directory):
        for name, text in files.items():
            write_atomic(os.path.join(directory, name), text)
    return fill


@pytest.mark.parametrize("exchange_works", [True, False])
def test_publish_dir_swaps_the_whole_set(tmp_path, monkeypatch, exchange_works):
    from tf_dpvae import files

    if not exchange_works:   # another OS or file system: the two-rename fallback
        monkeypatch.setattr(files, "exchange", lambda a, b: False)
    target = tmp_path / "eval"
    files.publish_dir(str(target), fill_with({"metrics.json": "old", "old_figure.png": "old"}))
    files.publish_dir(str(target), fill_with({"metrics.json": "new", "figure.png": "new"}))
    assert sorted(os.listdir(target)) == ["figure.png", "metrics.json"]   # no old figure beside
    assert (target / "metrics.json").read_text() == "new"
    assert os.listdir(tmp_path) == ["eval"]   # no temporaries


def test_publish_dir_interrupted_keeps_the_old_set_and_cleans_up(tmp_path):
    from tf_dpvae import files

    target = tmp_path / "eval"
    files.publish_dir(str(target), fill_with({"metrics.json": "old"}))

    def killed(directory):
        write_atomic(os.path.join(directory, "figure.png"), "new")
        raise KeyboardInterrupt   # a kill in the middle of writing the set

    with pytest.raises(KeyboardInterrupt):
        files.publish_dir(str(target), killed)
    assert os.listdir(target) == ["metrics.json"] and (target / "metrics.json").read_text() == "old"
    assert os.listdir(tmp_path) == ["eval"]


def test_temporaries_of_a_killed_writer_are_cleaned_and_a_set_put_aside_is_restored(tmp_path):
    from tf_dpvae import files

    (tmp_path / ".tmp-eval-dead").mkdir()          # SIGKILL while building the set
    (tmp_path / ".tmp-eval-dead" / "figure.png").write_text("partial")
    (tmp_path / ".old-eval-dead").mkdir()          # SIGKILL between the fallback's two renames
    (tmp_path / ".old-eval-dead" / "metrics.json").write_text("old")
    done = files.clean_stale_dirs(str(tmp_path), "eval")
    assert sorted(os.listdir(tmp_path)) == ["eval"] and len(done) == 2
    assert (tmp_path / "eval" / "metrics.json").read_text() == "old"
    (tmp_path / ".tmp-eval-dead2").mkdir()
    files.publish_dir(str(tmp_path / "eval"), fill_with({"metrics.json": "new"}))
    assert sorted(os.listdir(tmp_path)) == ["eval"]


def test_clean_stale_files_removes_write_atomic_temporaries_only(tmp_path):
    (tmp_path / ".tmp-x1y2").write_text("half a config")
    (tmp_path / ".tmp-eval-abc").mkdir()          # publish_dir's, not this function's
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / ".lock").write_text("")
    assert clean_stale_files(str(tmp_path)) == [str(tmp_path / ".tmp-x1y2")]
    assert sorted(os.listdir(tmp_path)) == [".lock", ".tmp-eval-abc", "config.json"]
    assert clean_stale_files(str(tmp_path / "missing")) == []
