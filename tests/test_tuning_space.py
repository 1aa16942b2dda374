"""tuning.space: the --space file's errors and the default space."""

import pytest

from tf_dpvae import tuning
from tf_dpvae.cli import tune
from tf_dpvae.config import ConfigError

from conftest import tiny_config


@pytest.mark.parametrize("text, fragment", [
    ('{"beta": {"min": 1, "max": 3}', "does not parse as JSON: Expecting ',' delimiter at line 1"),
    ('[1, 2]', "must hold a JSON object of entries"),
    ('{"beta": {"values": []}}', "search-space entry 'beta': values must be a non-empty list"),
    ('{"beta": {"min": 1, "max": 3, "scale": 2}}', "search-space entry 'beta': unknown keys ['scale']"),
    ('{"latent_dim": {"min": 2.5, "max": 4}}', "search-space entry 'latent_dim': min must be an "
                                               "integer, got 2.5"),
])
def test_bad_space_file(tmp_path, base_file, capsys, text, fragment):
    space = tmp_path / "space.json"
    space.write_text(text)
    out = tmp_path / "search"
    assert tune.main(["--config", base_file, "--reg", "beta", "--space", str(space),
                      "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_default_space_follows_objective_and_prior():
    assert set(tuning.default_space("tc", "dp")) == {"tc_alpha", "tc_beta", "tc_gamma", "latent_dim",
                                                     "flow_blocks", "flow_units", "lr"}
    assert set(tuning.default_space("factor", "normal")) == {"factor_gamma", "latent_dim", "lr"}
    assert set(tuning.default_space("none", "dp")) == {"latent_dim", "flow_blocks", "flow_units",
                                                       "lr"}
    # A fixed value goes into the base configuration, not into the search.
    space, base = tuning.make_space(tiny_config("info"), {"info_lambda": 50, "lr": [1e-3, 1e-2]},
                                    use_defaults=False)
    assert space.names == ["lr"] and base.objective.info_lambda == 50
    with pytest.raises(ConfigError, match="every entry is fixed"):
        tuning.make_space(tiny_config("info"), {"info_lambda": 50}, use_defaults=False)
