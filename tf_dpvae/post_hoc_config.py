"""The settings of a post-hoc prior (issue 12): ``PostHocConfig``, the values it accepts, and the
retrofit command's flags (``RetrofitFlags``).

No TensorFlow import, as in ``config`` (whose ``flag``, bounds and ``ConfigError`` these settings
use): the retrofit command checks its flags before TensorFlow loads. The settings are not a section of
``config.RunConfig``: a retrofitted run records them in its ``config.json`` under
``config.POST_HOC_KEY``. They live here rather than in ``post_hoc/`` because ``runs.read_post_hoc``
and ``model.build_model`` read that record, and both sit below ``post_hoc/``, which imports them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tf_dpvae import errors
from tf_dpvae.config import CHECKPOINT_CHOICES, MAX_LR, ConfigError, flag

# Priors fitted after training to a normal-prior run's codes (retrofit command, post_hoc/):
# flow = the decoupled prior's RealNVP chain by maximum likelihood, gmm = a Gaussian mixture.
POST_HOC_SAMPLERS = ("flow", "gmm")
# What the post-hoc prior is fitted to: samples z ~ q(z|x) (the aggregate posterior q(z)) or the
# posterior means μ(x) (narrower than q(z) by the posterior spread).
POST_HOC_CODES = ("samples", "means")
# Mixture sizes K whose BIC is compared when --components is not given.
BIC_GRID = (1, 2, 4, 8, 10, 16)


@dataclasses.dataclass(frozen=True)
class PostHocConfig:
    """A prior fitted after training to the codes of a frozen normal-prior run (issue 12).

    ``flow`` fits the decoupled prior (the RealNVP chain of eqs. 3-4, sized by the run's own
    ``--flow-*`` settings, i.e. its dp twin's) alone by maximum likelihood; ``gmm`` fits a
    full-covariance Gaussian mixture with scikit-learn (ex-post density estimation, Ghosh et al.
    2020), K = ``components``, or the BIC's choice among ``BIC_GRID`` when it is 0.
    Not a ``RunConfig`` section: it is recorded under ``config.POST_HOC_KEY`` in the new run's
    config.json, and only the retrofit command has flags for it.
    """

    GROUP: ClassVar[str] = "post-hoc prior"

    sampler: str = flag("flow", "flow = the decoupled prior's RealNVP chain fitted by maximum "
                        "likelihood; gmm = a full-covariance Gaussian mixture (scikit-learn)",
                        choices=POST_HOC_SAMPLERS, group="run")
    components: int = flag(0, "gmm: number of mixture components K (0 = chosen by BIC over "
                           f"{', '.join(map(str, BIC_GRID))})", group="gmm")
    steps: int = flag(2000, "flow: Adam steps of the maximum-likelihood fit", group="flow")
    batch_size: int = flag(512, "flow: codes per step", group="flow")
    lr: float = flag(3e-3, "flow: Adam learning rate (cosine decay to 1% over --steps)", group="flow")
    codes: str = flag("samples", "fit to samples z ~ q(z|x) of every training example (the aggregate "
                      "posterior q(z), what sampling must match; the flow draws fresh ones each step) "
                      "or to the posterior means μ(x)", choices=POST_HOC_CODES)
    checkpoint: str = flag("best", "the source run's checkpoint whose encoder gives the codes",
                           choices=CHECKPOINT_CHOICES)
    seed: int = flag(0, "seed of the code samples, the flow's initialization and the mixture's EM")

    def __post_init__(self) -> None:
        errors.check_choice("sampler", self.sampler, POST_HOC_SAMPLERS, ConfigError)
        errors.require(isinstance(self.components, int) and not isinstance(self.components, bool)
                       and 0 <= self.components <= 1000,
                       f"components must be an integer in [1, 1000] (or 0 = chosen by BIC), "
                       f"got {self.components!r}", ConfigError)
        errors.check_int_in("steps", self.steps, 1, 10_000_000, error=ConfigError)
        errors.check_int_in("batch-size", self.batch_size, 1, 1_000_000, error=ConfigError)
        errors.check_finite_in("lr", self.lr, 0.0, MAX_LR, strict_low=True, error=ConfigError)
        errors.check_choice("codes", self.codes, POST_HOC_CODES, ConfigError)
        errors.check_choice("checkpoint", self.checkpoint, CHECKPOINT_CHOICES, ConfigError)
        errors.check_seed("seed", self.seed, ConfigError)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RetrofitFlags:
    """The retrofit command's configuration: one section, whose fields ``cli.flags`` turns into flags."""

    post_hoc: PostHocConfig = dataclasses.field(default_factory=PostHocConfig)
