"""tf_dpvae.json_files: the JSON files a user hands over are read strictly and within bounds."""

import pytest

from tf_dpvae.config import ConfigError


@pytest.mark.parametrize("text, fragment", [
    ('{"train": {"lr": 0.1}, "train": {"lr": 0.2}}', "the key 'train' appears twice in one object"),
    ('{"train": {"lr": 0.1, "lr": 0.2}}', "the key 'lr' appears twice in one object"),
    ("[" * 100_000 + "]" * 100_000, "nests deeper than 32 levels"),
    ('{"train": {"epochs": ' + "9" * 5000 + "}}", "an integer of 5,000 digits (at most 100"),
])
def test_json_files_with_duplicate_keys_deep_nesting_or_huge_integers_are_refused(tmp_path, text,
                                                                                  fragment):
    from tf_dpvae.json_files import read_config_file

    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_config_file(str(path))
    assert fragment in str(err.value) and f"--config {str(path)!r}" in str(err.value)
    assert len(str(err.value)) < 300


def test_a_json_file_over_the_size_bound_is_refused_unread(tmp_path, monkeypatch):
    from tf_dpvae import json_files

    monkeypatch.setattr(json_files, "MAX_JSON_BYTES", 1000)
    path = tmp_path / "c.json"
    path.write_text('{"train": {}}' + " " * 2000)
    with pytest.raises(ConfigError, match="is larger than"):
        json_files.read_json_file(str(path), "--config")


def test_json_depth_skips_brackets_inside_strings():
    from tf_dpvae.json_files import json_depth_over

    assert not json_depth_over('{"a": "[[[[[[\\"[[[[", "b": [[1]]}', 3)
    assert json_depth_over("[[[[1]]]]", 3)
