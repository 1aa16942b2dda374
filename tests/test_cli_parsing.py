"""cli.parsing: ``guarded`` lets a bug through (only a ``UserError`` becomes one line and exit
status 2: test_errors checks every class), and ``path_tag``."""

import pytest

from tf_dpvae.cli.parsing import guarded, path_tag


def test_other_exceptions_are_not_swallowed():
    def body():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        guarded("prog", body)


def test_path_tag_never_nests_directories():
    assert path_tag("npz:/data/x.npz") == "npz_data_x.npz"
    assert path_tag("moons") == "moons"
    assert path_tag("///") == "data"
