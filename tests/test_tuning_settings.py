"""tuning.settings: a search directory holding a search with other settings is refused."""

import json

from tf_dpvae import tuning
from tf_dpvae.cli import tune

from conftest import tiny_config
from tuning_cases import SPACE


def test_rerun_with_other_settings_is_refused(tmp_path, base_file, capsys):
    out = tmp_path / "search"
    # recorded: a search whose base differs from base_file's in the flow (4 blocks), the steps and
    # the space
    settings = tuning.make_settings(tiny_config("beta", prior={"num_blocks": 4}), "random", "val_nelbo", 2,
                                    {"beta": {"min": 1, "max": 2}}, use_defaults=False)
    out.mkdir()
    (out / "search.json").write_text(json.dumps(settings.identity()))
    code = tune.main(["--config", base_file, "--reg", "beta", "--out", str(out), *SPACE])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds a search with different settings (base.prior, base.train, space.beta, " \
           "space.flow_units)" in err
