"""tf_dpvae.provenance: the source tree's commit."""

import re

from tf_dpvae.provenance import git_commit

def test_git_commit_names_the_head():
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", git_commit())


def test_the_short_commit_is_the_head_s_prefix_with_the_same_dirty_flag():
    full, short = git_commit(), git_commit(short=True)
    assert re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?|unknown", short)
    assert full.split("+")[0].startswith(short.split("+")[0])
    assert full.endswith("+dirty") == short.endswith("+dirty")
