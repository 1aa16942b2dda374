"""tf_dpvae.experiments.request: a request's checks."""

import os

import pytest

from tf_dpvae.experiments.protocol import REDUCED, Table1Error
from tf_dpvae.experiments.request import Request, check_paths

def test_request_rejects_bad_regs_and_seeds(tmp_path):
    p = REDUCED
    with pytest.raises(Table1Error, match="unknown regularizer"):
        Request(p, ("none", "nope"), (0,), str(tmp_path))
    with pytest.raises(Table1Error, match="distinct"):
        Request(p, ("none",), (1, 1), str(tmp_path))
    with pytest.raises(Table1Error, match="seeds"):
        Request(p, ("none",), (-1,), str(tmp_path))
    request = Request(p, ("none", "beta"), (0, 1), str(tmp_path))
    assert request.specs()[:4] == [("none", "normal", 0), ("none", "dp", 0), ("beta", "normal", 0),
                                   ("beta", "dp", 0)]
    assert request.run_dir("beta", "dp", 1).endswith(os.path.join("runs", "beta-dp-seed1"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(Table1Error, match="is a file"):
        check_paths(Request(p, ("none",), (0,), str(tmp_path / "file")))
