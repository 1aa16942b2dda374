"""What an experiment trains and evaluates: the protocol of the paper's Table 1, the pair of models it
compares (a normal-prior model and its decoupled-prior twin), and the names of its models.

A ``Protocol`` is configuration overrides (``training``: ``("section.field", value)`` pairs applied
to ``RunConfig``'s defaults, so each setting is validated where it is defined) plus an
``EvalSettings`` (``evaluation``: the evaluation's sizes and seed, validated there), plus what only the
table decides: its run length, the τ of its leakage cell, the feature classifier's epochs, the
post-hoc flow's steps. ``Protocol.replace`` and ``Protocol.to_dict`` speak the flat field names of
``table1.json`` (``dataset``, ``num_samples``, ``eval_seed``, ...), which are its file format.

No TensorFlow import: the command line builds and checks a protocol before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from tf_dpvae.config import RunConfig
from tf_dpvae.errors import UserError
from tf_dpvae.evaluation.settings import EvalSettings  # no TensorFlow
from tf_dpvae.errors import check_positive_int
from tf_dpvae.model_names import MODEL_NAMES, PAIR, POST_HOC_NAMES, model_name  # noqa: F401
# Priors fitted after training to the normal-prior model's codes (issue 12; ``post_hoc``): rows
# beside each pair unless the request leaves them out. Their run is <reg>-<key>-seed<k>.
POST_HOC = tuple(POST_HOC_NAMES)

# The protocol's training settings by their flat name in table1.json → the RunConfig field they set.
TRAINING_FIELDS = {"dataset": "data.dataset", "latent_dim": "model.latent_dim", "arch": "model.arch",
                   "batch_size": "train.batch_size", "lr": "train.lr",
                   "reg_warmup_steps": "objective.reg_warmup_steps",
                   "disc_units": "objective.disc_units", "disc_layers": "objective.disc_layers"}
# The evaluation's sizes by their flat name in table1.json → the EvalSettings field.
EVAL_FIELDS = {"num_samples": "num_samples", "lp_pool": "lp_pool", "skl_samples": "skl_samples",
               "is_samples": "is_samples", "nll_examples": "nll_examples", "eval_seed": "seed",
               "nearest_k": "nearest_k"}


class Table1Error(UserError):
    """The request cannot be carried out as given (bad setting, an output directory in the way);
    raised before anything is written."""


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What every model of a table is trained and evaluated with.

    Training: ``RunConfig``'s defaults, then ``training``, then ``config_overrides`` (``reproduce
    table1 --set``); per model only ``objective.reg``, ``prior.kind`` and ``train.seed`` vary, so a
    pair differs in ``prior.kind`` alone. ``train.epochs`` is set to the fewest that hold ``steps``
    and ``train.steps`` stops the run there. Evaluation: ``evaluation`` (its τ grid holds
    ``leakage_tau``). The flat names of ``TRAINING_FIELDS`` and ``EVAL_FIELDS`` read as attributes
    (``protocol.dataset``, ``protocol.num_samples``).
    """

    name: str
    training: tuple              # ("section.field", value) pairs of TRAINING_FIELDS' settings
    evaluation: EvalSettings
    steps: int                   # training steps per model
    leakage_tau: float = -4.0    # the table's leakage cell is LS(τ) at this τ
    classifier_epochs: int = 4   # image data: the feature classifier (as python -m tf_dpvae.features)
    post_hoc_steps: int = 2000   # post-hoc rows: Adam steps of the retrofit flow's fit
    # any other configuration setting, as ("section.field", value) pairs applied to both models of
    # every pair (reproduce table1 --set): e.g. (("prior.coupling", "spline"),)
    config_overrides: tuple = ()
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("steps", "classifier_epochs", "post_hoc_steps"):
            check_positive_int(name.replace("_", "-"), getattr(self, name), Table1Error)
        check_config_overrides(self.config_overrides)

    def __getattr__(self, name: str):
        """The flat names: a training setting or an evaluation size."""
        if name in TRAINING_FIELDS:
            return dict(self.training)[TRAINING_FIELDS[name]]
        if name in EVAL_FIELDS:
            return getattr(self.evaluation, EVAL_FIELDS[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def replace(self, **changes) -> Protocol:
        """A copy with fields changed by their flat names (``dataset=``, ``num_samples=``, ...)."""
        training = dict(self.training)
        training.update({TRAINING_FIELDS[k]: changes.pop(k) for k in list(changes)
                         if k in TRAINING_FIELDS})
        sizes = {EVAL_FIELDS[k]: changes.pop(k) for k in list(changes) if k in EVAL_FIELDS}
        return dataclasses.replace(self, training=tuple(training.items()),
                                   evaluation=dataclasses.replace(self.evaluation, **sizes), **changes)

    def to_dict(self) -> dict[str, Any]:
        """The flat record of table1.json's ``protocol``."""
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("training", "evaluation")}
        return {**own, **{k: getattr(self, k) for k in (*TRAINING_FIELDS, *EVAL_FIELDS)}}

    def eval_sizes(self) -> dict[str, int]:
        return {field: getattr(self.evaluation, field) for field in EVAL_FIELDS.values()}

    def training_settings(self) -> dict[str, Any]:
        """What decides the models a table trains (the run length aside, which may grow between
        invocations): an output directory made with other values holds other models."""
        return {**{k: getattr(self, k) for k in TRAINING_FIELDS},
                "config_overrides": [list(pair) for pair in self.config_overrides]}

    def title(self) -> str:
        """The table's title: data set, protocol, latent size and every configuration override."""
        extra = "".join(f", {key}={value}" for key, value in self.config_overrides)
        return f"{self.dataset}, protocol `{self.name}`, latent dim {self.latent_dim}{extra}"


# Settings a pair's own loop sets, or a dedicated flag of the command sets: not for --set.
RESERVED_OVERRIDES = {"objective.reg": "the table trains every --regs", "prior.kind": "each pair "
                      "trains both priors", "train.seed": "use --seeds", "train.steps": "use --steps",
                      "train.epochs": "the table derives it from --steps", "data.dataset":
                      "use --dataset", "model.latent_dim": "use --latent-dim"}


def check_config_overrides(overrides) -> None:
    """Table1Error unless ``overrides`` is a tuple of ("section.field", value) pairs naming distinct
    settings of ``RunConfig`` that the table does not set itself (the values are checked when the
    configurations are built, by ``RunConfig``'s own validation)."""
    if not isinstance(overrides, tuple):
        raise Table1Error(f"config_overrides must be a tuple of (key, value) pairs, got {overrides!r}")
    sections = RunConfig().to_dict()
    seen = set()
    for pair in overrides:
        key = pair[0] if isinstance(pair, tuple) and len(pair) == 2 else None
        section, _, field = str(key).partition(".")
        if key is None or field not in sections.get(section, {}):
            raise Table1Error(f"--set takes SECTION.FIELD=VALUE with a setting of the configuration "
                              f"({', '.join(sorted(sections))}), got {str(pair)[:200]!r}")
        if key in RESERVED_OVERRIDES:
            raise Table1Error(f"--set {key}: {RESERVED_OVERRIDES[key]}")
        if key in seen:
            raise Table1Error(f"--set names {key} twice")
        seen.add(key)


def _training(dataset="fashion_mnist", latent_dim=2, arch="auto", batch_size=100, lr=1e-3,
              reg_warmup_steps=0, disc_units=1000, disc_layers=5) -> tuple:
    """A protocol's ``training``. The paper's protocol ramps nothing in (the β-B capacity aside);
    FactorVAE's discriminator: the authors' 5 hidden layers of 1,000 (reference-code.md §2c), pinned
    here because the command-line default is a smaller one sized for the 2-D moons codes."""
    values = dict(dataset=dataset, latent_dim=latent_dim, arch=arch, batch_size=batch_size, lr=lr,
                  reg_warmup_steps=reg_warmup_steps, disc_units=disc_units, disc_layers=disc_layers)
    return tuple((TRAINING_FIELDS[k], v) for k, v in values.items())


REDUCED = Protocol(
    name="reduced", training=_training(), steps=1_080,
    evaluation=EvalSettings(num_samples=5_000, lp_pool=5, skl_samples=5_000, is_samples=100,
                            nll_examples=500, seed=0, nearest_k=5),
    description="sized for 2 CPU cores (12 models x 2 seeds within 2 h): 1,080 steps per model "
                "(2 epochs of Fashion-MNIST's 54,000 training images at batch 100) instead of the "
                "authors' 100,000; K = 100 importance samples on 500 held-out "
                "examples instead of the paper's K = 21,000; 5,000 generated samples; sKL on 5,000 "
                "per side as the paper")
PAPER = Protocol(
    name="paper", training=_training(), steps=100_000,
    evaluation=EvalSettings(num_samples=10_000, lp_pool=5, skl_samples=5_000, is_samples=21_000,
                            nll_examples=1_000, seed=0, nearest_k=5),
    description="the paper's sizes, for a GPU: 100,000 steps per model (the authors' max_iter), "
                "K = 21,000 importance samples (the paper's K) on 1,000 held-out examples, 10,000 "
                "generated samples, sKL on 5,000 per side")
PROTOCOLS = {p.name: p for p in (REDUCED, PAPER)}


def run_name(reg: str, prior: str, seed: int) -> str:
    return f"{reg}-{prior}-seed{seed}"


def post_hoc_settings(protocol: Protocol, prior: str, seed: int):
    """The ``PostHocConfig`` of a post-hoc row: the retrofit command's defaults (codes sampled from
    q(z|x), the source's best checkpoint, K by BIC), the protocol's flow steps, the model's seed."""
    from tf_dpvae.post_hoc_config import PostHocConfig

    return PostHocConfig(sampler=prior, steps=protocol.post_hoc_steps, seed=seed)


def sections(pairs) -> dict[str, dict]:
    """("section.field", value) pairs as ``RunConfig.replace``'s keyword arguments (a later pair
    wins)."""
    changes: dict[str, dict] = {}
    for key, value in pairs:
        section, field = key.split(".", 1)
        changes.setdefault(section, {})[field] = value
    return changes


def twin_configs(normal: RunConfig, flow: dict | None = None) -> dict[str, RunConfig]:
    """The one definition of a pair: ``normal`` with the standard normal prior, and its twin with the
    decoupled prior and otherwise identical settings (the paper's "no additional tuning"). ``flow``:
    ``prior.*`` settings that reach the dp model only (the normal-prior model, and the post-hoc
    priors fitted to it, is the same model whatever the flow, so tables that compare flows share
    it)."""
    return {"normal": normal.replace(prior={"kind": "normal"}),
            "dp": normal.replace(prior={**(flow or {}), "kind": "dp"})}


def pair_configs(protocol: Protocol, reg: str, seed: int,
                 num_train: int | None = None) -> dict[str, RunConfig]:
    """The normal-prior model's configuration and its dp twin's (``twin_configs``), which differs in
    ``prior.kind`` only, and in the flow settings a ``prior.*`` override gives.
    ``num_train`` (training examples) sets ``train.epochs`` to the fewest epochs that hold
    ``protocol.steps``; without it epochs is 1 (a placeholder for checks: the number of epochs may
    change between a run and its resumption)."""
    epochs = 1
    if num_train is not None:
        epochs = max(1, math.ceil(protocol.steps / max(1, num_train // protocol.batch_size)))
    changes = sections(protocol.training + protocol.config_overrides)
    flow = changes.pop("prior", {})
    changes.setdefault("objective", {})["reg"] = reg
    changes.setdefault("train", {}).update(steps=protocol.steps, epochs=epochs, seed=seed)
    return twin_configs(RunConfig().replace(prior={"kind": "normal"}, **changes), flow)
