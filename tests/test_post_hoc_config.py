"""post_hoc_config: the post-hoc prior's settings, validated on construction without TensorFlow."""

import pytest

from tf_dpvae.config import ConfigError
from tf_dpvae.post_hoc_config import PostHocConfig, RetrofitFlags


def test_post_hoc_settings_are_validated_on_their_own():
    """(Moved from test_config.py with the class; the record's round trip through RunConfig stays
    there.)"""
    with pytest.raises(ConfigError, match="sampler must be one of flow, gmm; got 'maf'"):
        PostHocConfig(sampler="maf")
    with pytest.raises(ConfigError, match="codes must be one of samples, means; got 'modes'"):
        PostHocConfig(codes="modes")
    with pytest.raises(ConfigError, match="steps must be a positive integer, got 0"):
        PostHocConfig(steps=0)


@pytest.mark.parametrize("values, message", [
    ({"components": -1}, "components must be an integer in [1, 1000] (or 0 = chosen by BIC), got -1"),
    ({"components": True}, "components must be an integer in [1, 1000] (or 0 = chosen by BIC), got True"),
    ({"batch_size": 0}, "batch-size must be a positive integer, got 0"),
    ({"batch_size": 2_000_000}, "batch-size must be an integer in [1, 1,000,000], got 2000000"),
    ({"lr": 0.0}, "lr must be a finite number > 0.0, got 0.0"),
    ({"lr": 100.0}, "lr must be a finite number in (0, 10], got 100.0"),
    ({"checkpoint": "first"}, "checkpoint must be one of best, latest; got 'first'"),
    ({"seed": -1}, "seed must be an integer in [0, 2**31), got -1"),
])
def test_each_bad_value_is_named_with_what_is_accepted(values, message):
    with pytest.raises(ConfigError) as err:
        PostHocConfig(**values)
    assert str(err.value) == message


def test_the_settings_round_trip_through_their_record():
    """What retrofit writes under config.POST_HOC_KEY ("settings") builds the same settings back."""
    settings = PostHocConfig(sampler="gmm", components=4, codes="means", seed=3)
    assert PostHocConfig(**settings.to_dict()) == settings
    assert RetrofitFlags().post_hoc == PostHocConfig()
