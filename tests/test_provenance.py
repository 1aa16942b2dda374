"""tf_dpvae.provenance: the source tree's commit."""

import re

from tf_dpvae.provenance import git_commit

def test_git_commit_names_the_head():
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", git_commit())
