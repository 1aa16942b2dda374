"""Table 1 of the dpVAE paper (Bhalodia, Lee & Elhabian, ACCV 2020), reproduced: every regularizer
with the standard normal prior and with the decoupled prior, trained with identical settings inside
each pair, evaluated with the same metrics, summarized over seeds. ``python -m tf_dpvae.reproduce
table1`` is the command line (see ``reproduce.py``); ``reproduce_table1(request)`` does the work.

Layout of the output directory ``<out>``:

    runs/<reg>-<prior>-seed<k>/   one ``training.fit`` run each; its ``eval/`` (``evaluate_run`` +
                                  ``write_results``), ``eval/samples.npz`` (random and low-posterior
                                  samples for the sheets), ``table1_timing.json`` (wall seconds of
                                  training, summed over resumptions, and of the last evaluation),
                                  ``logs/run`` (its one TensorBoard HParams session, training's;
                                  a post-hoc row's written here) and ``logs/run/table1`` (the
                                  table's numbers as that session's metrics)
    runs/table1_experiment/       the HParams experiment (``hparams_config``; a named run, not
                                  events at runs/ itself, which TensorBoard would list as "."):
                                  ``tensorboard --logdir <out>/runs`` shows every model in one
                                  dashboard
    features/<dataset>/           image data: the feature classifier of the Fréchet distance
    table1.csv, table1.md, table1.json, leakage.png, samples_<reg>.png, reproduce.log

Resuming: a model whose ``eval/metrics.json`` records the protocol's step count and evaluation sizes
(and whose ``eval/samples.npz`` exists) is skipped; a model trained part of the way resumes from its
checkpoint (``training.fit`` does that by itself); one trained to the end but not evaluated is only
evaluated. The tables are rewritten after every model, the figures at the end.

Nothing here imports TensorFlow at import time: the protocol, the tables and the checks are plain
Python, so that the command line can validate its arguments first.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import gc
import io
import json
import math
import os
import time
from typing import Any, Callable

import numpy as np

from tf_dpvae.config import PRIORS, REGULARIZERS, ConfigError, RunConfig
from tf_dpvae.errors import UserError
from tf_dpvae.files import write_atomic
from tf_dpvae.provenance import git_commit  # noqa: F401 (table1.git_commit: its users)

PAIR = ("normal", "dp")  # row order inside a pair: the normal-prior model, then its dp twin
# Priors fitted after training to the normal-prior model's codes (issue 12; ``retrofitting``): rows
# beside each pair unless the request leaves them out. Their run is <reg>-<key>-seed<k>.
POST_HOC = ("flow", "gmm")
POST_HOC_NAMES = {"flow": "retrofit flow", "gmm": "ex-post GMM"}
# The paper's names of the twelve models (Table 1's rows).
MODEL_NAMES = {
    "none": ("VAE", "dpVAE"), "beta": ("β-VAE-H", "β-dpVAE-H"), "betab": ("β-VAE-B", "β-dpVAE-B"),
    "tc": ("β-TCVAE", "β-TC-dpVAE"), "factor": ("FactorVAE", "Factor-dpVAE"),
    "info": ("InfoVAE", "Info-dpVAE")}

# The paper's Table 1 (Bhalodia et al., ACCV 2020, "Generative metrics (lower is better)"), MNIST
# columns, copied from /work/shared/paper/dpvae-paper.txt (Table 1, around line 142): FID, LP
# (low-posterior FID), sKL, NLL (×10³, as printed). For the direction of each effect only: their FID is
# on Inception features of MNIST, ours a Fréchet distance on other features of another data set.
PAPER_MNIST = {
    "none": {"normal": {"fid": 137.4, "lp": 165.0, "skl": 1.26, "nll_e3": 3.56},
             "dp": {"fid": 129.0, "lp": 153.1, "skl": 0.88, "nll_e3": 3.53}},
    "beta": {"normal": {"fid": 144.2, "lp": 163.1, "skl": 4.49, "nll_e3": 4.12},
             "dp": {"fid": 127.1, "lp": 127.4, "skl": 1.07, "nll_e3": 2.98}},
    "betab": {"normal": {"fid": 130.8, "lp": 163.6, "skl": 2.74, "nll_e3": 3.11},
              "dp": {"fid": 113.3, "lp": 114.1, "skl": 1.32, "nll_e3": 2.80}},
    "tc": {"normal": {"fid": 149.8, "lp": 200.3, "skl": 4.48, "nll_e3": 2.91},
           "dp": {"fid": 133.3, "lp": 133.1, "skl": 2.07, "nll_e3": 2.70}},
    "factor": {"normal": {"fid": 130.5, "lp": 191.2, "skl": 1.04, "nll_e3": 3.50},
               "dp": {"fid": 120.8, "lp": 121.3, "skl": 0.85, "nll_e3": 3.60}},
    "info": {"normal": {"fid": 128.7, "lp": 133.2, "skl": 2.89, "nll_e3": 2.88},
             "dp": {"fid": 110.1, "lp": 110.5, "skl": 1.70, "nll_e3": 2.81}},
}

LP_TOLERANCE = 1.05  # "LP-FD ≈ FD": the dp models' low-posterior samples are as good as random ones
TIMING_FILE = "table1_timing.json"
SAMPLES_FILE = "samples.npz"
# The run's HParams session is training's (summaries.write_hparams, in logs/run); the table's numbers
# go under it as metrics of group "table1" (TensorBoard reads group G from <session run>/G). A
# post-hoc row, which has no training, gets its session here.
SESSION_DIR = os.path.join("logs", "run")
HPARAMS_DIR = os.path.join(SESSION_DIR, "table1")
EXPERIMENT_RUN = "table1_experiment"   # under runs/: the HParams experiment of the table
HPARAMS_CONFIG_SUFFIX = ".table1-hparams"
# The evaluation sizes a finished model's metrics.json must record to be skipped.
EVAL_SIZE_FIELDS = ("num_samples", "lp_pool", "skl_samples", "is_samples", "nll_examples", "seed")


class Table1Error(UserError):
    """The request cannot be carried out as given (bad setting, an output directory in the way);
    raised before anything is written."""


# ------------------------------------------------------------------------------------ protocols
@dataclasses.dataclass(frozen=True)
class Protocol:
    """What every model of the table is trained and evaluated with.

    Training: ``RunConfig``'s defaults except the fields below (per model only ``objective.reg``,
    ``prior.kind`` and ``train.seed`` vary, so a pair differs in ``prior.kind`` alone); ``epochs`` is
    set to the fewest that hold ``steps`` and ``train.steps`` stops the run there. Evaluation:
    ``EvalSettings`` with these sizes (τ grid: the evaluation's default, which holds ``leakage_tau``).
    """

    name: str
    dataset: str
    latent_dim: int
    arch: str
    batch_size: int
    lr: float
    steps: int                   # training steps per model
    num_samples: int             # generated samples for FD; LP samples kept
    lp_pool: int                 # LP: the num_samples lowest q(z) of lp_pool·num_samples
    skl_samples: int             # per side, sKL and the leakage score
    is_samples: int              # K of the importance-sampled NLL
    nll_examples: int            # held-out examples for the NLL
    eval_seed: int = 0
    leakage_tau: float = -4.0    # the table's leakage cell is LS(τ) at this τ
    classifier_epochs: int = 4   # image data: the feature classifier (as python -m tf_dpvae.features)
    post_hoc_steps: int = 2000   # post-hoc rows: Adam steps of the retrofit flow's fit
    reg_warmup_steps: int = 0    # the paper's protocol ramps nothing in (the β-B capacity aside)
    # FactorVAE's discriminator: the authors' 5 hidden layers of 1,000 (reference-code.md §2c), pinned
    # here because the command-line default is a smaller one sized for the 2-D moons codes
    disc_units: int = 1000
    disc_layers: int = 5
    nearest_k: int = 5           # k of precision, recall, density and coverage (evaluation.prdc)
    # any other configuration setting, as ("section.field", value) pairs applied to both models of
    # every pair (reproduce table1 --set): e.g. (("prior.coupling", "spline"),)
    config_overrides: tuple = ()
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("latent_dim", "batch_size", "steps", "num_samples", "lp_pool", "skl_samples",
                     "is_samples", "nll_examples", "classifier_epochs", "disc_units", "disc_layers",
                     "post_hoc_steps", "nearest_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise Table1Error(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.num_samples < 2 or self.skl_samples < 2:
            raise Table1Error("num-samples and skl-samples must be at least 2")
        if not (isinstance(self.eval_seed, int) and 0 <= self.eval_seed < 2 ** 31):
            raise Table1Error(f"eval-seed must be an integer in [0, 2**31), got {self.eval_seed!r}")
        check_config_overrides(self.config_overrides)

    def eval_sizes(self) -> dict[str, int]:
        return {"num_samples": self.num_samples, "lp_pool": self.lp_pool,
                "skl_samples": self.skl_samples, "is_samples": self.is_samples,
                "nll_examples": self.nll_examples, "seed": self.eval_seed, "nearest_k": self.nearest_k}

    def training_settings(self) -> dict[str, Any]:
        """What decides the models a table trains (the run length aside, which may grow between
        invocations): an output directory made with other values holds other models."""
        return {"dataset": self.dataset, "latent_dim": self.latent_dim, "arch": self.arch,
                "batch_size": self.batch_size, "lr": self.lr, "reg_warmup_steps": self.reg_warmup_steps,
                "disc_units": self.disc_units, "disc_layers": self.disc_layers,
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


REDUCED = Protocol(
    name="reduced", dataset="fashion_mnist", latent_dim=2, arch="auto", batch_size=100, lr=1e-3,
    steps=1_080, num_samples=5_000, lp_pool=5, skl_samples=5_000, is_samples=100, nll_examples=500,
    description="sized for 2 CPU cores (12 models x 2 seeds within 2 h): 1,080 steps per model "
                "(2 epochs of Fashion-MNIST's 54,000 training images at batch 100) instead of the "
                "authors' 100,000; K = 100 importance samples on 500 held-out "
                "examples instead of the paper's K = 21,000; 5,000 generated samples; sKL on 5,000 "
                "per side as the paper")
PAPER = Protocol(
    name="paper", dataset="fashion_mnist", latent_dim=2, arch="auto", batch_size=100, lr=1e-3,
    steps=100_000, num_samples=10_000, lp_pool=5, skl_samples=5_000, is_samples=21_000,
    nll_examples=1_000,
    description="the paper's sizes, for a GPU: 100,000 steps per model (the authors' max_iter), "
                "K = 21,000 importance samples (the paper's K) on 1,000 held-out examples, 10,000 "
                "generated samples, sKL on 5,000 per side")
PROTOCOLS = {p.name: p for p in (REDUCED, PAPER)}


def run_name(reg: str, prior: str, seed: int) -> str:
    return f"{reg}-{prior}-seed{seed}"


def model_name(reg: str, prior: str) -> str:
    if prior in POST_HOC:
        return f"{MODEL_NAMES[reg][0]} + {POST_HOC_NAMES[prior]}"
    return MODEL_NAMES[reg][PAIR.index(prior)]


def post_hoc_settings(protocol: Protocol, prior: str, seed: int):
    """The ``PostHocConfig`` of a post-hoc row: the retrofit command's defaults (codes sampled from
    q(z|x), the source's best checkpoint, K by BIC), the protocol's flow steps, the model's seed."""
    from tf_dpvae.config import PostHocConfig

    return PostHocConfig(sampler=prior, steps=protocol.post_hoc_steps, seed=seed)


def pair_configs(protocol: Protocol, reg: str, seed: int,
                 num_train: int | None = None) -> dict[str, RunConfig]:
    """The normal-prior model's configuration and its dp twin's, which differs in ``prior.kind`` only
    (the paper's "no additional tuning"), and in the flow settings a ``prior.*`` override gives.
    ``num_train`` (training examples) sets ``train.epochs`` to the fewest epochs that hold
    ``protocol.steps``; without it epochs is 1 (a placeholder for checks: the number of epochs may
    change between a run and its resumption)."""
    epochs = 1
    if num_train is not None:
        epochs = max(1, math.ceil(protocol.steps / max(1, num_train // protocol.batch_size)))
    normal = RunConfig().replace(
        prior={"kind": "normal"},
        objective={"reg": reg, "reg_warmup_steps": protocol.reg_warmup_steps,
                   "disc_units": protocol.disc_units, "disc_layers": protocol.disc_layers},
        model={"latent_dim": protocol.latent_dim, "arch": protocol.arch},
        data={"dataset": protocol.dataset},
        train={"batch_size": protocol.batch_size, "lr": protocol.lr, "steps": protocol.steps,
               "epochs": epochs, "seed": seed})
    changes: dict[str, dict] = {}
    for key, value in protocol.config_overrides:
        section, field = key.split(".", 1)
        changes.setdefault(section, {})[field] = value
    flow = changes.pop("prior", {})
    normal = normal.replace(**changes) if changes else normal
    # The flow's settings reach the dp model only: the normal-prior model (and the post-hoc priors
    # fitted to it) is the same model whatever the flow, so tables that compare flows share it.
    return {"normal": normal, "dp": normal.replace(prior={**flow, "kind": "dp"})}


@dataclasses.dataclass
class Request:
    """One invocation: the protocol (with any overrides applied), the models, where."""

    protocol: Protocol
    regs: tuple[str, ...]
    seeds: tuple[int, ...]
    out: str
    inception_weights: str | None = None
    overrides: dict = dataclasses.field(default_factory=dict)  # recorded in table1.json
    post_hoc: bool = False   # also the POST_HOC rows (the command's default; --no-post-hoc: not)

    def __post_init__(self) -> None:
        if not self.regs or len(set(self.regs)) != len(self.regs):
            raise Table1Error(f"regs must be distinct names, got {list(self.regs)}")
        bad = [r for r in self.regs if r not in REGULARIZERS]
        if bad:
            raise Table1Error(f"unknown regularizer {bad[0]!r}; accepted: {', '.join(REGULARIZERS)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise Table1Error(f"seeds must be distinct, got {list(self.seeds)}")
        if not all(isinstance(s, int) and 0 <= s < 2 ** 31 for s in self.seeds):
            raise Table1Error(f"seeds must be integers in [0, 2**31), got {list(self.seeds)}")
        # every configuration must be valid before anything runs (e.g. latent-dim 1 with dp)
        for reg in self.regs:
            pair_configs(self.protocol, reg, self.seeds[0])

    @property
    def runs_root(self) -> str:
        return os.path.join(self.out, "runs")

    @property
    def priors(self) -> tuple[str, ...]:
        """The rows of each regularizer: the pair, then the post-hoc priors when asked for."""
        return PAIR + (POST_HOC if self.post_hoc else ())

    def specs(self) -> list[tuple[str, str, int]]:
        """(reg, prior, seed) of every model, seed-major: a first seed's table fills in first; a
        post-hoc row after the normal-prior model it is fitted to."""
        return [(reg, prior, seed) for seed in self.seeds for reg in self.regs for prior in self.priors]

    def run_dir(self, reg: str, prior: str, seed: int) -> str:
        return os.path.join(self.runs_root, run_name(reg, prior, seed))


def check_paths(request: Request) -> None:
    """Table1Error if an output path is a file where a directory belongs, or the Inception weights
    are not a file. Plain file-system checks: no TensorFlow, nothing written."""
    for path in (request.out, request.runs_root, os.path.join(request.out, "features")):
        if os.path.exists(path) and not os.path.isdir(path):
            raise Table1Error(f"{path!r} is a file; --out must be a directory (new or an earlier "
                              "table's)")
    for reg, prior, seed in request.specs():
        path = request.run_dir(reg, prior, seed)
        if os.path.exists(path) and not os.path.isdir(path):
            raise Table1Error(f"{path!r} is a file; a model's run directory belongs there")
    if request.inception_weights is not None and not os.path.isfile(request.inception_weights):
        raise Table1Error(f"--inception-weights {request.inception_weights!r} is not a file")
    check_same_table(request)


def check_same_table(request: Request) -> None:
    """Table1Error if ``<out>/table1.json`` records a table trained with other settings (latent size,
    configuration overrides, ...): its models are not this request's, as ``train`` refuses an
    ``--out`` holding a run with other settings. A table of an earlier version that records no
    overrides had none."""
    saved = read_json(os.path.join(request.out, "table1.json"))
    if saved is None or not isinstance(saved.get("protocol"), dict):
        return
    current = json.loads(json.dumps(request.protocol.training_settings()))
    recorded = {**current, "config_overrides": []}   # a key it lacks: as here (older versions)
    recorded.update({k: v for k, v in saved["protocol"].items() if k in recorded})
    differ = [f"{k} {recorded[k]!r} there, {current[k]!r} here" for k in current
              if recorded[k] != current[k]]
    if differ:
        raise Table1Error(f"--out {request.out!r} holds a table made with other settings "
                          f"({'; '.join(differ)}); choose another --out")


# ------------------------------------------------------------------------------ reading results
def _number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def leakage_variant(leakage: dict) -> str:
    """The headline leakage variant's key: ``eq6_literal`` where metrics.json has it (the renamed
    variants), else ``eq6``."""
    return "eq6_literal" if "eq6_literal" in leakage else "eq6"


def extract_values(metrics_file: dict, tau: float = -4.0) -> dict[str, Any]:
    """The table's numbers from one ``eval/metrics.json`` (as a dict).

    Returns ``values`` (fd, lp_fd, lp_fd_ratio, skl, nll, neg_elbo, leakage = LS(τ) of the headline
    variant, and fid, lp_fid when true FID was computed; None where missing or not finite), the
    whole leakage ``curve`` (variant, tau, leakage_score), the Fréchet distance's key, the step.
    """
    met = metrics_file.get("metrics", {})
    fd_key = next((k for k in ("frechet_distance_classifier", "frechet_distance_data") if k in met),
                  "frechet_distance_data")
    fd = met.get(fd_key, {})
    random, low = _number(fd.get("random")), _number(fd.get("low_posterior"))
    values = {"fd": random, "lp_fd": low,
              "lp_fd_ratio": low / random if random and low is not None and random > 0 else None,
              "skl": _number(met.get("symmetric_kl", {}).get("skl")),
              "nll": _number(met.get("nll", {}).get("importance_sampled")),
              "neg_elbo": _number(met.get("nll", {}).get("negative_elbo")),
              # diagnostics for the section that explains where dp does not win
              "kl_qp": _number(met.get("symmetric_kl", {}).get("kl_qp")),
              "kl_pq": _number(met.get("symmetric_kl", {}).get("kl_pq")),
              "nll_ess_median": _number(met.get("nll", {}).get("median_effective_sample_size"))}
    if "fid" in met:
        values["fid"] = _number(met["fid"].get("random"))
        values["lp_fid"] = _number(met["fid"].get("low_posterior"))
    leak = met.get("leakage", {})
    variant = leakage_variant(leak)
    table = leak.get(variant) or {}
    taus = [float(t) for t in table.get("tau", [])]
    scores = [_number(v) for v in table.get("leakage_score", [])]
    at = [i for i, t in enumerate(taus) if math.isclose(t, tau)]
    values["leakage"] = scores[at[0]] if at and at[0] < len(scores) else None
    values.update(sample_quality_values(met))
    classifier = {k: fd[f"classifier_{k}"] for k in ("test_accuracy", "accuracy_split",
                                                       "weights_sha256") if f"classifier_{k}" in fd}
    return {"values": values, "curve": {"variant": variant, "tau": taus, "leakage_score": scores},
            "sample_reference": sample_quality_reference(met),
            "fd_key": fd_key, "step": metrics_file.get("step"),
            "fd_skipped": bool(fd.get("skipped")), "classifier": classifier or None}


# Sample metrics (evaluation.prdc) in the table: metrics.json group → prefix of the table's keys.
# The Fréchet distance's own features (classifier for images, the data for vectors) have none.
SAMPLE_EMBEDDINGS = {"sample_quality_classifier": "", "sample_quality_data": "",
                     "sample_quality_random_conv": "rc_", "sample_quality_pixels": "px_",
                     "sample_quality_latent": "z_"}
EMBEDDING_NAMES = {"": "the Fréchet distance's features", "rc_": "a random conv net",
                   "px_": "pixels", "z_": "the representation space z (prior samples against q(z) "
                                          "samples; no low-posterior or real-data rows)"}
PRDC = ("precision", "recall", "density", "coverage")
SAMPLE_KEYS = PRDC + tuple(f"lp_{m}" for m in PRDC)


def sample_quality_values(met: dict) -> dict[str, float | None]:
    """``{prefix}{lp_}precision`` etc. of every embedding (``SAMPLE_EMBEDDINGS``) in one metrics.json's
    ``metrics``; None where an embedding was not computed or was skipped."""
    values = {}
    for group, prefix in SAMPLE_EMBEDDINGS.items():
        scores = met.get(group)
        if prefix == "" and scores is None and values.get("precision") is not None:
            continue   # one of the two Fréchet-feature groups is present, the other is not
        for key in SAMPLE_KEYS:
            values[f"{prefix}{key}"] = _number((scores or {}).get(key))
    return values


def sample_quality_reference(met: dict) -> dict[str, float | None]:
    """The same metrics of the training data against the held-out data (``train_vs_held_out``):
    what samples that are real data score at these sizes."""
    values = {}
    for group, prefix in SAMPLE_EMBEDDINGS.items():
        reference = (met.get(group) or {}).get("train_vs_held_out") or {}
        if reference or f"{prefix}precision" not in values:
            values.update({f"{prefix}{m}": _number(reference.get(m)) for m in PRDC})
    return values


def read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def evaluation_state(run_dir: str, protocol: Protocol, with_fid: bool) -> tuple[bool, str]:
    """(done, why): whether ``run_dir``'s evaluation is the one this protocol asks for."""
    metrics = read_json(os.path.join(run_dir, "eval", "metrics.json"))
    if metrics is None:
        return False, "not evaluated yet"
    trained = trained_step(run_dir)
    if trained != protocol.steps:
        return False, f"trained to step {trained}, the protocol trains {protocol.steps}"
    if metrics.get("checkpoint_kind", "latest") != "best" and os.path.isdir(
            os.path.join(run_dir, "checkpoints", "best")):
        return False, "evaluated at the latest checkpoint, the protocol evaluates the best"
    settings = metrics.get("settings", {})
    differ = [k for k, v in protocol.eval_sizes().items() if settings.get(k) != v]
    if differ:
        return False, f"evaluated with other sizes ({', '.join(differ)})"
    if with_fid != ("fid" in metrics.get("metrics", {})):
        return False, "true FID " + ("requested" if with_fid else "not requested") + " this time"
    if not os.path.isfile(os.path.join(run_dir, "eval", SAMPLES_FILE)):
        return False, f"eval/{SAMPLES_FILE} is missing"
    return True, (f"trained to step {protocol.steps}, evaluated at its best checkpoint (step "
                  f"{metrics.get('step')})")


def trained_step(run_dir: str) -> int:
    """The training step a model stands at: a retrofit's is its source's latest checkpoint step (the
    retrofit's own checkpoints are numbered by the step they were fitted at), else
    ``checkpoint_step``."""
    from tf_dpvae.config import POST_HOC_KEY

    record = (read_json(os.path.join(run_dir, "config.json")) or {}).get(POST_HOC_KEY)
    if isinstance(record, dict):
        step = record.get("source", {}).get("latest_step")
        return int(step) if isinstance(step, int) else 0
    return checkpoint_step(run_dir)


def checkpoint_step(run_dir: str) -> int:
    """The step of the run's latest checkpoint (0 if none), from ``checkpoints/checkpoint``."""
    state = os.path.join(run_dir, "checkpoints", "checkpoint")
    try:
        with open(state) as f:
            for line in f:
                if line.startswith("model_checkpoint_path:"):
                    tail = line.split(":", 1)[1].strip().strip('"').rsplit("-", 1)[-1]
                    return int(tail) if tail.isdigit() else 0
    except OSError:
        pass
    return 0


def read_timing(run_dir: str) -> dict[str, float]:
    timing = read_json(os.path.join(run_dir, TIMING_FILE)) or {}
    return {"train_seconds": float(timing.get("train_seconds", 0.0)),
            "eval_seconds": float(timing.get("eval_seconds", 0.0))}


def write_timing(run_dir: str, timing: dict) -> None:
    write_atomic(os.path.join(run_dir, TIMING_FILE), json.dumps(timing, indent=2, sort_keys=True))


def collect(request: Request) -> dict[str, dict]:
    """Every planned model's record from disk: its numbers when evaluated with this protocol."""
    with_fid = request.inception_weights is not None
    records = {}
    for reg, prior, seed in request.specs():
        run_dir = request.run_dir(reg, prior, seed)
        done, why = evaluation_state(run_dir, request.protocol, with_fid)
        record = {"reg": reg, "prior": prior, "seed": seed, "model": model_name(reg, prior),
                  "run_dir": run_dir, "evaluated": done, "state": why,
                  "checkpoint_step": trained_step(run_dir),
                  "wall_seconds": read_timing(run_dir)}
        if done:
            metrics = read_json(os.path.join(run_dir, "eval", "metrics.json"))
            record.update(extract_values(metrics, request.protocol.leakage_tau))
        records[run_name(reg, prior, seed)] = record
    return records


# ---------------------------------------------------------------------------------- aggregation
METRICS = ("fd", "lp_fd", "lp_fd_ratio", "skl", "nll", "neg_elbo", "leakage")
FID_METRICS = ("fid", "lp_fid")
COMPARED = ("fd", "lp_fd", "skl", "nll", "leakage")  # dp beats its twin when its mean is lower
DIAGNOSTICS = ("kl_qp", "kl_pq", "nll_ess_median")  # aggregated for the "where dp loses" section
# the sample metrics of every embedding, in the tables once any model has them (as FID)
SAMPLE_METRICS = tuple(f"{prefix}{key}" for prefix in EMBEDDING_NAMES for key in SAMPLE_KEYS)
# dp beats its twin when its mean is higher: on the manifold (precision, density), reaching all of it
# (recall, coverage); the Fréchet distance's features and the random conv net
COMPARED_HIGHER = PRDC + ("rc_precision", "rc_density", "z_precision", "z_density")


def mean_se(values) -> dict[str, Any]:
    """Mean and standard error (sd/√n, ddof = 1; None for n = 1) of the finite values given."""
    finite = [float(v) for v in values if _number(v) is not None]
    n = len(finite)
    if n == 0:
        return {"mean": None, "se": None, "n": 0}
    mean = float(np.mean(finite))
    se = float(np.std(finite, ddof=1) / math.sqrt(n)) if n > 1 else None
    return {"mean": mean, "se": se, "n": n}


def metric_names(records: dict) -> tuple[str, ...]:
    with_fid = any("fid" in r.get("values", {}) for r in records.values())
    with_samples = any(r.get("values", {}).get(f"{prefix}precision") is not None
                       for r in records.values() for prefix in EMBEDDING_NAMES)
    return METRICS + (FID_METRICS if with_fid else ()) + (SAMPLE_METRICS if with_samples else ())


def aggregated_names(records: dict) -> tuple[str, ...]:
    return metric_names(records) + DIAGNOSTICS


def aggregate(request: Request, records: dict) -> dict[str, dict[str, dict]]:
    """aggregates[reg][prior] = {seeds: n evaluated, metric: {mean, se, n, values}, leakage_curve}
    (the metrics of the table and the ``DIAGNOSTICS``)."""
    names = aggregated_names(records)
    out: dict[str, dict[str, dict]] = {}
    for reg in request.regs:
        for prior in request.priors:
            done = [records[run_name(reg, prior, s)] for s in request.seeds
                    if records[run_name(reg, prior, s)]["evaluated"]]
            entry: dict[str, Any] = {"seeds": len(done), "seed_list": [r["seed"] for r in done]}
            for name in names:
                values = [r["values"].get(name) for r in done]
                entry[name] = {**mean_se(values), "values": values}
            entry["leakage_curve"] = mean_curve([r["curve"] for r in done])
            out.setdefault(reg, {})[prior] = entry
    return out


def mean_curve(curves: list[dict]) -> dict | None:
    """The mean over seeds of LS(τ) at each τ of the first curve (None where no seed has a value)."""
    if not curves:
        return None
    taus = curves[0]["tau"]
    means = []
    for i, tau in enumerate(taus):
        values = [c["leakage_score"][i] for c in curves
                  if i < len(c["tau"]) and math.isclose(c["tau"][i], tau)]
        means.append(mean_se(values)["mean"])
    return {"variant": curves[0]["variant"], "tau": taus, "leakage_score": means}


def _lower(a, b) -> bool | None:
    return None if a is None or b is None else a < b


def _higher(a, b) -> bool | None:
    return None if a is None or b is None else a > b


def compare_pairs(request: Request, aggregates: dict) -> dict[str, dict]:
    """Per regularizer: does the dp model's mean beat its twin's (lower) on each compared metric;
    is the dp model's LP-FD within 5% of its FD; and the same directions in the paper's MNIST columns."""
    out = {}
    for reg in request.regs:
        normal, dp = aggregates[reg]["normal"], aggregates[reg]["dp"]
        ours = {m: _lower(dp[m]["mean"], normal[m]["mean"]) for m in COMPARED}
        ours.update({m: _higher(dp[m]["mean"], normal[m]["mean"]) for m in COMPARED_HIGHER
                     if m in dp})
        lp_ok = (None if dp["fd"]["mean"] is None or dp["lp_fd"]["mean"] is None
                 else dp["lp_fd"]["mean"] <= LP_TOLERANCE * dp["fd"]["mean"])
        paper = PAPER_MNIST[reg]
        out[reg] = {
            "dp_better": ours, "dp_lp_fd_within_5pct": lp_ok,
            "paper_mnist_dp_better": {m: paper["dp"][m] < paper["normal"][m]
                                      for m in ("fid", "lp", "skl", "nll_e3")},
            "paper_mnist_dp_lp_within_5pct": paper["dp"]["lp"] <= LP_TOLERANCE * paper["dp"]["fid"]}
    return out


# ---------------------------------------------------------------------------------- rendering
def _fmt(value, digits=4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def _cell(stats: dict) -> str:
    if stats["mean"] is None:
        return "–"
    if stats["se"] is None:
        return _fmt(stats["mean"])
    return f"{_fmt(stats['mean'])} ± {_fmt(stats['se'], 2)}"


def _yes(value) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _tau_tag(tau: float) -> str:
    return f"{tau:g}"


def csv_columns(names: tuple[str, ...], tau: float) -> list[str]:
    columns = ["regularizer", "prior", "seeds"]
    for name in names:
        label = f"leakage_tau{_tau_tag(tau)}" if name == "leakage" else name
        columns += [f"{label}_mean", f"{label}_se"]
    return columns


def render_csv(request: Request, records: dict, aggregates: dict) -> str:
    names = metric_names(records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_columns(names, request.protocol.leakage_tau))
    for reg in request.regs:
        for prior in request.priors:
            entry = aggregates[reg][prior]
            row = [reg, prior, entry["seeds"]]
            for name in names:
                row += [_fmt(entry[name]["mean"], 10), _fmt(entry[name]["se"], 10)]
            writer.writerow(row)
    return buf.getvalue()


def fd_description(records: dict) -> str:
    """What the Fréchet distances were computed on."""
    keys = {r.get("fd_key") for r in records.values() if r.get("evaluated")}
    if keys == {"frechet_distance_classifier"}:
        info = next((r["classifier"] for r in records.values() if r.get("classifier")), None)
        about = ""
        if info and "test_accuracy" in info:
            about = (f" ({info.get('accuracy_split', 'test')} accuracy {info['test_accuracy']:.4f}, "
                     f"weights sha256 {str(info.get('weights_sha256', ''))[:12]}…)")
        return f"the features of the project's classifier{about}, not FID"
    if keys == {"frechet_distance_data"}:
        return "the data themselves (vector data)"
    return "the evaluation's features"


def render_markdown(request: Request, records: dict, aggregates: dict, pairs: dict, commit: str,
                    wall: dict) -> str:
    p = request.protocol
    tau = _tau_tag(p.leakage_tau)
    names = metric_names(records)
    evaluated = sum(r["evaluated"] for r in records.values())
    variant = next((r["curve"]["variant"] for r in records.values() if r.get("evaluated")), "eq6")
    lines = [f"# Table 1, reproduced: {p.title()}", "",
             f"Commit `{commit}`; written {_now()}; {evaluated} of {len(records)} models evaluated "
             f"({len(request.regs)} regularizer{'s' if len(request.regs) > 1 else ''} × {len(request.priors)} priors × "
             f"{len(request.seeds)} seed{'s' if len(request.seeds) > 1 else ''} "
             f"{list(request.seeds)}).", "",
             f"Protocol `{p.name}`: {p.description}. Training: {p.dataset}, latent dim {p.latent_dim}, "
             f"arch {p.arch}, batch {p.batch_size}, lr {p.lr:g}, {p.steps:,} steps per model, every "
             "other setting the configuration's default; the dp model of each pair differs from its "
             f"normal-prior twin in the prior only. Evaluation: {p.num_samples:,} generated samples "
             f"(LP: the {p.num_samples:,} lowest q(z) of {p.lp_pool * p.num_samples:,}), sKL on "
             f"{p.skl_samples:,} per side, IS-NLL with K = {p.is_samples:,} on {p.nll_examples:,} "
             f"held-out examples, seed {p.eval_seed}."
             + (f" Overrides: {json.dumps(request.overrides, sort_keys=True)}."
                if request.overrides else ""), "",
             "Lower is better in every column but P, R, D, C (↑: precision, recall, density, coverage "
             "of random samples on the Fréchet distance's features; see “Where the samples land”). "
             "Mean ± standard error over seeds (s.e. = sd/√n, "
             "ddof = 1; a single number where n = 1). "
             "FD = Fréchet distance of random prior samples to held-out data, on "
             f"{fd_description(records)}; LP-FD = "
             "the same for low-posterior samples; sKL = symmetric KL between prior and aggregate "
             "posterior in z; IS-NLL = importance-sampled negative log-likelihood (nats per "
             f"example); −ELBO likewise; LS(τ={tau}) = leakage score of eq. (6) at τ = {tau} "
             f"(variant `{variant}`).", ""]
    header = ["Model", "seeds", "FD", "LP-FD", "LP-FD / FD", "sKL", "IS-NLL", "−ELBO",
              f"LS(τ={tau})"]
    if "fid" in names:
        header += ["FID", "LP-FID"]
    main_prdc = PRDC if "precision" in names else ()
    header += ["P ↑", "R ↑", "D ↑", "C ↑"] if main_prdc else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for reg in request.regs:
        for prior in request.priors:
            entry = aggregates[reg][prior]
            cells = [model_name(reg, prior), str(entry["seeds"])]
            cells += [_cell(entry[m]) for m in METRICS]
            if "fid" in names:
                cells += [_cell(entry[m]) for m in FID_METRICS]
            cells += [_cell(entry[m]) for m in main_prdc]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Does the decoupled prior help? dp model against its normal-prior twin", "",
              "“yes” = the dp model's mean is lower (better) than its twin's; last column of each "
              f"half: the dp model's LP-FD ≤ {LP_TOLERANCE} × its FD (low-posterior samples as "
              "good as random ones). Right half: the same questions of the paper's MNIST columns.",
              "",
              f"| Regularizer | FD | LP-FD | sKL | IS-NLL | LS(τ={tau}) | dp LP-FD ≤ 1.05·FD "
              "| paper FID | paper LP | paper sKL | paper NLL | paper dp LP ≤ 1.05·FID |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for reg in request.regs:
        c = pairs[reg]
        cells = [model_name(reg, "normal")] + [_yes(c["dp_better"][m]) for m in COMPARED]
        cells += [_yes(c["dp_lp_fd_within_5pct"])]
        cells += [_yes(c["paper_mnist_dp_better"][m]) for m in ("fid", "lp", "skl", "nll_e3")]
        cells += [_yes(c["paper_mnist_dp_lp_within_5pct"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += where_dp_loses(request, aggregates, pairs)
    if any(m in names for m in SAMPLE_METRICS):
        lines += where_samples_land(request, records, aggregates, pairs)
    if request.post_hoc:
        lines += joint_or_post_hoc(request, aggregates)
    lines += ["", "## Ours beside the paper's MNIST numbers (Table 1 of the paper)", "",
              f"Different data ({p.dataset} here), features, training length and sample sizes: "
              "compare the direction of each effect within a pair, not the values. The paper's NLL "
              "column is printed ×10³; the authors' code computes it as a scaled −ELBO, not by "
              "importance sampling (their computeGenMetrics).", "",
              "| Model | FD | LP-FD | sKL | IS-NLL | paper FID | paper LP | paper sKL | "
              "paper NLL (×10³) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for reg in request.regs:
        for prior in PAIR:
            entry, paper = aggregates[reg][prior], PAPER_MNIST[reg][prior]
            cells = [model_name(reg, prior)] + [_cell(entry[m]) for m in ("fd", "lp_fd", "skl", "nll")]
            cells += [f"{paper[k]:g}" for k in ("fid", "lp", "skl", "nll_e3")]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Wall time", "",
              f"Training {wall['train_total_seconds'] / 60:.1f} min, evaluation "
              f"{wall['eval_total_seconds'] / 60:.1f} min in total over the evaluated and trained "
              f"models; this invocation {wall['this_invocation_seconds'] / 60:.1f} min. Per model: "
              "`table1.json`.", "",
              "Figures: `leakage.png` (LS(τ), mean over seeds; dashed normal, solid dp), "
              "`samples_<reg>.png` (random and low-posterior samples of each pair). Every run: "
              f"`tensorboard --logdir {os.path.join(request.out, 'runs')}`.", ""]
    return "\n".join(lines)


def where_dp_loses(request: Request, aggregates: dict, pairs: dict) -> list[str]:
    """Markdown lines: for every comparison the dp model loses, the numbers that say why.

    sKL is split into its halves: KL[q‖p] (does q(z) fill the prior's space: what the decoupled prior
    is trained for, through eq. 5) and KL[p‖q] (does the prior stay inside q(z), an average over
    prior samples that a few far-tail samples can dominate: ``benchmarks/table1_skl.py`` measures how
    much). IS-NLL losses are shown with the median effective sample size of the importance weights:
    far below K, the estimate is an upper bound dominated by few samples. LP-FD/FD above the
    tolerance is listed with both values.
    """
    lines = ["", "## Where the decoupled prior does not win, and why", ""]
    skl_rows, nll_rows, lp_rows = [], [], []
    for reg in request.regs:
        normal, dp, c = aggregates[reg]["normal"], aggregates[reg]["dp"], pairs[reg]
        if c["dp_better"]["skl"] is False:
            skl_rows.append(f"| {model_name(reg, 'normal')} | {_cell(normal['kl_qp'])} | "
                            f"{_cell(dp['kl_qp'])} | {_cell(normal['kl_pq'])} | {_cell(dp['kl_pq'])} |")
        if c["dp_better"]["nll"] is False:
            nll_rows.append(f"| {model_name(reg, 'normal')} | {_cell(normal['nll'])} | {_cell(dp['nll'])} "
                            f"| {_cell(normal['nll_ess_median'])} | {_cell(dp['nll_ess_median'])} |")
        if c["dp_lp_fd_within_5pct"] is False:
            lp_rows.append(f"| {model_name(reg, 'dp')} | {_cell(dp['fd'])} | {_cell(dp['lp_fd'])} | "
                           f"{_cell(dp['lp_fd_ratio'])} | {_cell(normal['lp_fd_ratio'])} |")
    if skl_rows:
        lines += ["**sKL.** Its two halves, normal prior against dp. KL[q‖p] is the direction the "
                  "decoupled prior is fitted in (eq. 5); KL[p‖q] = E_p[log p − log q] averages over "
                  "prior samples and is carried by the few that g⁻¹ sends far outside q(z) "
                  "(`benchmarks/table1_skl.py` prints, per model, the share of KL[p‖q] carried by the "
                  "top 1 % of samples, the median log-ratio and the mean without the top 1 %).", "",
                  "| Regularizer | KL[q‖p] normal | KL[q‖p] dp | KL[p‖q] normal | KL[p‖q] dp |",
                  "|---|---|---|---|---|", *skl_rows, ""]
    if nll_rows:
        lines += ["**IS-NLL.** Beside it, the median effective sample size of the importance weights "
                  f"(of K = {request.protocol.is_samples:,}): where it is a few samples, the estimate is "
                  "decided by the proposal's luck and differences of this size are not resolved.", "",
                  "| Regularizer | IS-NLL normal | IS-NLL dp | median ESS normal | median ESS dp |",
                  "|---|---|---|---|---|", *nll_rows, ""]
    if lp_rows:
        lines += [f"**LP-FD above {LP_TOLERANCE} × FD** for these dp models (their normal twins' ratio "
                  "beside them):", "",
                  "| Model | FD | LP-FD | LP-FD / FD | twin's LP-FD / FD |", "|---|---|---|---|---|",
                  *lp_rows, ""]
    if not (skl_rows or nll_rows or lp_rows):
        lines += ["The decoupled prior wins every comparison above.", ""]
    return lines


def where_samples_land(request: Request, records: dict, aggregates: dict, pairs: dict) -> list[str]:
    """Markdown lines: precision, recall, density and coverage (``evaluation.prdc``) of random and
    low-posterior samples on each embedding, the real data's own scores as the reference row, and
    whether the dp model beats its twin on them."""
    k = request.protocol.nearest_k
    lines = ["", "## Where the samples land: precision, recall, density, coverage", "",
             "Higher is better (density ≈ 1 when samples are distributed as the data). Against the "
             f"held-out data, with k = {k} nearest neighbours: precision (P) = share of samples inside "
             "some held-out point's k-NN ball (Kynkäänniemi et al. 2019), recall (R) = share of held-out "
             "points inside some sample's k-NN ball among samples, density (D) = mean number of "
             "held-out balls holding a sample, / k, coverage (C) = share of held-out balls holding a "
             "sample (Naeem et al. 2020). LP- = the same for the low-posterior samples. Samples off the "
             "data manifold lower P and D, which a Fréchet distance averages away. The reference row "
             "scores training images in place of samples: what real data reach at these sizes.", ""]
    reference = next((r["sample_reference"] for r in records.values()
                      if r.get("evaluated") and r.get("sample_reference")), {})
    header = ["Model", "seeds", "P", "R", "D", "C", "LP-P", "LP-R", "LP-D", "LP-C"]
    for prefix, about in EMBEDDING_NAMES.items():
        if not any(aggregates[reg][prior][f"{prefix}precision"]["n"] for reg in request.regs
                   for prior in request.priors):
            continue
        lines += [f"**On {about}.**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                  "| real data (training vs held-out) | – | " + " | ".join(
                      _fmt(reference.get(f"{prefix}{m}")) or "–" for m in PRDC) + " | | | | |"]
        for reg in request.regs:
            for prior in request.priors:
                entry = aggregates[reg][prior]
                lines.append("| " + " | ".join([model_name(reg, prior), str(entry["seeds"])] + [
                    _cell(entry[f"{prefix}{m}"]) for m in SAMPLE_KEYS]) + " |")
        lines.append("")
    labels = {"precision": "P", "recall": "R", "density": "D", "coverage": "C",
              "rc_precision": "P (random conv)", "rc_density": "D (random conv)",
              "z_precision": "P (z)", "z_density": "D (z)"}
    lines += ["**dp against its twin** on the sample metrics (“yes” = the dp model's mean is higher):",
              "", "| Regularizer | " + " | ".join(labels[m] for m in COMPARED_HIGHER) + " |",
              "|---|" + "---|" * len(COMPARED_HIGHER)]
    for reg in request.regs:
        lines.append("| " + " | ".join([model_name(reg, "normal")] + [
            _yes(pairs[reg]["dp_better"].get(m)) for m in COMPARED_HIGHER]) + " |")
    return lines + [""]


def joint_or_post_hoc(request: Request, aggregates: dict) -> list[str]:
    """Markdown lines: per regularizer and compared metric, the prior with the lowest mean among the
    jointly trained decoupled prior and the two fitted after training to the normal-prior model."""
    tau = _tau_tag(request.protocol.leakage_tau)
    lines = ["", "## Joint training or post-hoc fitting?", "",
             "Per regularizer, which of the three learned priors has the best mean (lowest; highest for "
             "the sample metrics P and D): the "
             "decoupled prior trained jointly with the model (dp), or a prior fitted after training to "
             "the normal-prior model's codes z ~ q(z|x) with its encoder and decoder frozen (the "
             "decoupled prior's RealNVP chain by maximum likelihood: flow; a full-covariance Gaussian "
             "mixture with K by BIC: GMM). The normal-prior model itself is the baseline all three "
             "improve on or not (its cells above). A post-hoc prior changes only p(z), so the IS-NLL "
             "and −ELBO of its rows move only through p(z) in them.", "",
             f"| Regularizer | FD | LP-FD | sKL | IS-NLL | LS(τ={tau}) |", "|---|---|---|---|---|---|"]
    labels = {"dp": "dp", "flow": "flow", "gmm": "GMM"}
    higher = [m for m in ("precision", "density", "rc_precision", "rc_density", "z_precision",
                          "z_density")
              if any(aggregates[reg]["dp"].get(m, {}).get("n") for reg in request.regs)]
    if higher:   # the sample metrics, where higher is better
        names = {"precision": "P", "density": "D", "rc_precision": "P (random conv)",
                 "rc_density": "D (random conv)", "z_precision": "P (z)", "z_density": "D (z)"}
        lines[-2] += "".join(f" {names[m]} |" for m in higher)
        lines[-1] += "---|" * len(higher)
    for reg in request.regs:
        cells = [MODEL_NAMES[reg][0]]
        for metric, pick in [(m, min) for m in COMPARED] + [(m, max) for m in higher]:
            means = {prior: aggregates[reg][prior][metric]["mean"] for prior in ("dp",) + POST_HOC}
            known = {k: v for k, v in means.items() if v is not None}
            cells.append(labels[pick(known, key=known.get)] if known else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _clean(value):
    """JSON-ready: NaN/inf → None, tuples → lists, NumPy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def render_json(request: Request, records: dict, aggregates: dict, pairs: dict, commit: str,
                wall: dict, extra: dict | None = None) -> str:
    payload = {
        "protocol": dataclasses.asdict(request.protocol), "overrides": request.overrides,
        "regs": list(request.regs), "seeds": list(request.seeds), "commit": commit,
        "written": _now(), "inception_weights": request.inception_weights,
        "leakage_tau": request.protocol.leakage_tau, "fd_description": fd_description(records),
        "models": records, "aggregates": aggregates, "pairs": pairs,
        "paper_mnist_table1": PAPER_MNIST, "wall_seconds": wall, **(extra or {})}
    return json.dumps(_clean(payload), indent=2, sort_keys=True, allow_nan=False)


def wall_times(records: dict, invocation_seconds: float) -> dict[str, float]:
    return {"train_total_seconds": sum(r["wall_seconds"]["train_seconds"] for r in records.values()),
            "eval_total_seconds": sum(r["wall_seconds"]["eval_seconds"] for r in records.values()),
            "this_invocation_seconds": invocation_seconds}


def write_tables(request: Request, records: dict, commit: str, invocation_seconds: float,
                 extra: dict | None = None) -> dict[str, str]:
    """table1.csv, table1.md, table1.json from the records (each written atomically)."""
    aggregates = aggregate(request, records)
    pairs = compare_pairs(request, aggregates)
    wall = wall_times(records, invocation_seconds)
    paths = {name: os.path.join(request.out, f"table1.{name}") for name in ("csv", "md", "json")}
    write_atomic(paths["csv"], render_csv(request, records, aggregates))
    write_atomic(paths["md"], render_markdown(request, records, aggregates, pairs, commit, wall))
    write_atomic(paths["json"], render_json(request, records, aggregates, pairs, commit, wall, extra))
    return paths


def write_figures(request: Request, records: dict) -> list[str]:
    """leakage.png (every pair's mean LS(τ)) and samples_<reg>.png per pair with samples (and the
    post-hoc rows' samples under them when the request has them)."""
    from tf_dpvae import plots

    written = []
    aggregates = aggregate(request, records)
    curves = []
    for reg in request.regs:
        for prior in PAIR:
            curve = aggregates[reg][prior]["leakage_curve"]
            if curve:
                curves.append({"label": MODEL_NAMES[reg][0], "name": model_name(reg, prior),
                               "prior": prior, "tau": curve["tau"], "score": curve["leakage_score"],
                               "full_score": _full_density_curve(request, records, reg, prior,
                                                                 curve["tau"])})
    if curves:
        path = os.path.join(request.out, "leakage.png")
        fig = plots.leakage_comparison_figure(
            curves, tau_mark=request.protocol.leakage_tau,
            title=f"leakage score LS(τ) of eq. (6), mean over seeds {list(request.seeds)}; "
                  f"{request.protocol.dataset}, {request.protocol.steps:,} steps per model; "
                  "dashed: normal prior, solid: decoupled prior")
        write_atomic(path, plots.figure_to_png(fig))
        written.append(path)
    for reg in request.regs:
        for seed in request.seeds:
            arrays = {}
            for prior in request.priors:
                record = records[run_name(reg, prior, seed)]
                if record["evaluated"]:
                    with np.load(os.path.join(record["run_dir"], "eval", SAMPLES_FILE)) as f:
                        arrays[prior] = (f["random"], f["low_posterior"])
            if all(prior in arrays for prior in PAIR):   # the pair, and the post-hoc rows evaluated
                rows = [(model_name(reg, prior), *arrays[prior]) for prior in request.priors
                        if prior in arrays]
                path = os.path.join(request.out, f"samples_{reg}.png")
                fig = plots.paired_samples_figure(
                    rows, title=f"{model_name(reg, 'normal')} vs {model_name(reg, 'dp')}, seed {seed}, "
                                f"step {request.protocol.steps:,}",
                    caption=plots.low_posterior_definition(request.protocol.lp_pool)
                    + "; lowest log q(z) first. Random samples: n prior draws, decoded E[x | z].")
                write_atomic(path, plots.figure_to_png(fig))
                written.append(path)
                break
    return written


def _full_density_curve(request: Request, records: dict, reg: str, prior: str, taus) -> list | None:
    """The mean over evaluated seeds of the ``full_density`` leakage variant (threshold and ratio on
    log p(z)) at ``taus``, from each run's metrics.json: the leakage figure's second panel."""
    rows = []
    for seed in request.seeds:
        record = records[run_name(reg, prior, seed)]
        if record["evaluated"]:
            metrics = read_json(os.path.join(record["run_dir"], "eval", "metrics.json")) or {}
            table = metrics.get("metrics", {}).get("leakage", {}).get("full_density")
            if table and len(table.get("tau", [])) == len(taus):
                rows.append(table["leakage_score"])
    if not rows:
        return None
    return [mean_se([row[i] for row in rows])["mean"] for i in range(len(taus))]


def samples_payload(arrays: dict) -> bytes:
    """``samples.npz`` (random, low_posterior) from ``evaluate_run``'s ``arrays``, as bytes."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def save_samples(run_dir: str, arrays: dict) -> str:
    """``eval/samples.npz`` (random, low_posterior) from ``evaluate_run``'s ``arrays``, atomically.
    (The reproduction passes the same bytes to ``write_results`` instead, so that they belong to
    the ``eval/`` set they were drawn with.)"""
    path = os.path.join(run_dir, "eval", SAMPLES_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, samples_payload(arrays))
    return path


# ---------------------------------------------------------------------------------- TensorBoard
def table_scalar_tags(tau: float) -> dict[str, str]:
    """The TensorBoard tag of each table value (the HParams dashboard's metrics)."""
    return {"fd": "table1/fd_random", "lp_fd": "table1/fd_low_posterior",
            "lp_fd_ratio": "table1/lp_fd_ratio", "skl": "table1/skl", "nll": "table1/nll_is",
            "neg_elbo": "table1/neg_elbo", "leakage": f"table1/leakage_ls_tau{_tau_tag(tau)}",
            **{m: f"table1/{m}" for m in PRDC + ("lp_precision", "lp_density", "rc_precision",
                                                 "rc_density")}}


def write_hparams_config(runs_root: str, tau: float) -> None:
    """The HParams experiment in ``<out>/runs/table1_experiment`` (once): hyperparameters reg, prior,
    seed, dataset, latent size, and as metrics the table's numbers (group ``table1`` of each run's
    session, which ``write_trial_metrics`` writes) and training's best-epoch −ELBO and step."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    directory = os.path.join(runs_root, EXPERIMENT_RUN)
    if os.path.isdir(directory) and any(name.endswith(HPARAMS_CONFIG_SUFFIX)
                                        for name in os.listdir(directory)):
        return
    metrics = [hp.Metric(tag, group="table1", display_name=tag.split("/", 1)[1])
               for tag in table_scalar_tags(tau).values()]
    metrics += [hp.Metric("best/val_nelbo", display_name="best validation −ELBO"),
                hp.Metric("best/step", display_name="best step")]
    with tf.summary.create_file_writer(directory, filename_suffix=HPARAMS_CONFIG_SUFFIX).as_default():
        hp.hparams_config(
            hparams=[hp.HParam("reg", hp.Discrete(list(REGULARIZERS))),
                     hp.HParam("prior", hp.Discrete(list(PRIORS) + list(POST_HOC))),
                     hp.HParam("seed", hp.IntInterval(0, 2 ** 31 - 1)), hp.HParam("dataset"),
                     hp.HParam("latent_dim", hp.IntInterval(1, 2 ** 31 - 1))],
            metrics=metrics)


def write_trial_hparams(run_dir: str, reg: str, prior: str, seed: int, dataset: str,
                        latent_dim: int) -> None:
    """A post-hoc row's HParams session in ``<run>/logs/run`` (once): training writes every other
    run's there itself, so that each model is one session."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    directory = os.path.join(run_dir, SESSION_DIR)
    if os.path.isdir(directory) and any(f.startswith("events.") for f in os.listdir(directory)):
        return
    with tf.summary.create_file_writer(directory).as_default():
        hp.hparams({"reg": reg, "prior": prior, "seed": seed, "dataset": dataset,
                    "latent_dim": latent_dim}, trial_id=os.path.basename(run_dir))


def write_trial_metrics(run_dir: str, values: dict, step: int, tau: float) -> None:
    """The table's numbers of one run as scalars next to its HParams session."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(run_dir, HPARAMS_DIR))
    with writer.as_default(step=step):
        for key, tag in table_scalar_tags(tau).items():
            if values.get(key) is not None:
                tf.summary.scalar(tag, values[key])
    writer.flush()
    writer.close()


# ---------------------------------------------------------------------------------- the work
def ensure_classifier(dataset: str, out: str, epochs: int, log: Callable[[str], None]) -> str:
    """The feature classifier of ``dataset`` under ``<out>/features/``: trained (through
    ``classifier.train_dataset_classifier``, as ``python -m tf_dpvae.features`` does) if missing."""
    from tf_dpvae.evaluation import classifier

    directory = classifier.default_classifier_dir(dataset, root=os.path.join(out, "features"))
    if os.path.isfile(os.path.join(directory, classifier.INFO_FILE)):
        info = read_json(os.path.join(directory, classifier.INFO_FILE)) or {}
        log(f"feature classifier: {directory} (cached; {info.get('accuracy_split', 'test')} accuracy "
            f"{info.get('test_accuracy', float('nan')):.4f})")
        return directory
    log(f"feature classifier: training it for {dataset} ({epochs} epochs) into {directory}")
    started = time.perf_counter()
    try:
        info = classifier.train_dataset_classifier(dataset, directory, epochs=epochs, verbose=0)
    except classifier.ClassifierError as err:
        raise Table1Error(str(err)) from None
    log(f"feature classifier: {info['accuracy_split']} accuracy {info['test_accuracy']:.4f} "
        f"({time.perf_counter() - started:.0f} s)")
    return directory


class _Log:
    """Messages to the caller's ``log`` and appended, time-stamped, to ``<out>/reproduce.log``."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.path: str | None = None

    def __call__(self, message: str) -> None:
        self.log(message)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(f"{datetime.datetime.now().isoformat(timespec='seconds')} {message}\n")


def preflight(request: Request):
    """Checks that need TensorFlow, before anything is written: the data load (the first seed's
    splits are returned), image data have labels for the classifier, no existing run directory holds
    another configuration or is past the protocol's step count. Raises Table1Error."""
    from tf_dpvae import data as data_lib
    from tf_dpvae import training

    check_paths(request)
    p = request.protocol
    try:
        splits = data_lib.load(pair_configs(p, request.regs[0], request.seeds[0])["normal"].data,
                               request.seeds[0])
    except (data_lib.DataError, ConfigError) as err:
        raise Table1Error(str(err).splitlines()[0]) from None
    image = len(splits.example_shape) == 3
    if image and (splits.streamed or splits.train_labels is None):
        raise Table1Error(f"{p.dataset!r} has no in-memory class labels: the Fréchet distance's "
                          "feature classifier trains on them")
    if request.inception_weights is not None and not image:
        raise Table1Error(f"--inception-weights applies to image data; {p.dataset!r} has examples "
                          f"of shape {splits.example_shape}")
    if splits.num_train < p.batch_size:
        raise Table1Error(f"batch size {p.batch_size} is larger than {p.dataset!r}'s training set "
                          f"({splits.num_train} examples)")
    for reg, prior, seed in request.specs():
        run_dir = request.run_dir(reg, prior, seed)
        if prior in POST_HOC:   # written by the retrofit as one set; an incomplete one is redone
            continue
        config = pair_configs(p, reg, seed)[prior]
        saved = read_json(os.path.join(run_dir, "config.json"))
        if saved is not None and reg == "tc":  # fit fills in N; the check must compare like with like
            config = config.replace(objective={
                "dataset_size": saved.get("objective", {}).get("dataset_size", 0)})
        try:
            training.check_out_dir(run_dir, config)
        except ConfigError as err:
            raise Table1Error(str(err).replace("--out", "run directory").replace(
                "choose a new --out to start another run", "choose another --out")) from None
        step = checkpoint_step(run_dir)
        if step > p.steps:
            raise Table1Error(f"{run_dir!r} is already at step {step}, past this protocol's "
                              f"{p.steps}; choose another --out or give --steps {step} or more")
    return splits


def reproduce_table1(request: Request, log: Callable[[str], None] = print,
                     progress: bool = True) -> dict[str, Any]:
    """Train, evaluate and tabulate every model of ``request`` (see the module docstring).

    Returns {"paths": written files, "status": run name → skipped/trained/evaluated/failed: reason,
    "failed": [...]}. Raises Table1Error before anything is written when the request cannot run.
    """
    import keras
    from tqdm.auto import tqdm

    from tf_dpvae import data as data_lib
    from tf_dpvae import retrofitting, training
    from tf_dpvae.evaluation import run as eval_run

    started = time.perf_counter()
    p = request.protocol
    first_splits = preflight(request)
    image = len(first_splits.example_shape) == 3
    commit = git_commit()
    say = _Log(log)
    try:
        os.makedirs(request.runs_root, exist_ok=True)
    except OSError as err:   # root may pass every permission check and still not create it (/proc)
        raise Table1Error(f"--out {request.out!r} cannot be created: {err.strerror or err}") from None
    say.path = os.path.join(request.out, "reproduce.log")
    say(f"table1: protocol {p.name} ({p.steps:,} steps per model), regs {list(request.regs)}, "
        f"seeds {list(request.seeds)}, out {request.out}, commit {commit}")
    classifier_dir = (ensure_classifier(p.dataset, request.out, p.classifier_epochs, say)
                      if image else None)
    settings = eval_run.EvalSettings(
        num_samples=p.num_samples, lp_pool=p.lp_pool, skl_samples=p.skl_samples,
        is_samples=p.is_samples, nll_examples=p.nll_examples, seed=p.eval_seed, nearest_k=p.nearest_k,
        classifier_dir=None if classifier_dir is None else os.path.abspath(classifier_dir),
        inception_weights=request.inception_weights)
    write_hparams_config(request.runs_root, p.leakage_tau)

    splits_cache = {request.seeds[0]: first_splits}

    def splits_for(seed):
        if seed not in splits_cache:
            splits_cache.clear()  # one data set in memory at a time
            splits_cache[seed] = data_lib.load(pair_configs(p, request.regs[0], seed)["normal"].data,
                                               seed)
        return splits_cache[seed]

    status: dict[str, str] = {}
    specs = request.specs()
    bar = tqdm(specs, desc="table1", unit="model", disable=not progress, dynamic_ncols=True)
    for index, (reg, prior, seed) in enumerate(bar, 1):
        name = run_name(reg, prior, seed)
        run_dir = request.run_dir(reg, prior, seed)
        tag = f"[{index}/{len(specs)}] {name}"
        bar.set_postfix_str(name)
        done, why = evaluation_state(run_dir, p, request.inception_weights is not None)
        if done:
            status[name] = f"skipped: {why}"
            say(f"{tag}: skipped ({why})")
            continue
        timing = read_timing(run_dir)
        step = trained_step(run_dir)
        fitted = False   # a post-hoc prior fitted in this invocation
        try:
            if prior in POST_HOC and step != p.steps:
                source = request.run_dir(reg, "normal", seed)
                if checkpoint_step(source) != p.steps:
                    raise retrofitting.RetrofitError(
                        f"its normal-prior model {source!r} is not trained to step {p.steps}")
                say(f"{tag}: fitting the {POST_HOC_NAMES[prior]} to the codes of {source}")
                t = time.perf_counter()
                retrofitting.retrofit_run(source, post_hoc_settings(p, prior, seed), run_dir,
                                          log=lambda msg: say(f"{tag}: {msg}"), progress=False,
                                          overwrite=True)
                timing["train_seconds"] = time.perf_counter() - t
                write_timing(run_dir, timing)
                write_trial_hparams(run_dir, reg, prior, seed, p.dataset, p.latent_dim)
                step, fitted = p.steps, True
            elif prior in POST_HOC:
                say(f"{tag}: fitted already; evaluating")
                write_trial_hparams(run_dir, reg, prior, seed, p.dataset, p.latent_dim)
            elif step < p.steps:
                splits = splits_for(seed)
                config = pair_configs(p, reg, seed, splits.num_train)[prior]
                say(f"{tag}: training {'from step ' + str(step) if step else 'from scratch'} to "
                    f"step {p.steps:,}")
                os.makedirs(run_dir, exist_ok=True)
                t = time.perf_counter()
                try:
                    result = training.fit(config, run_dir, splits=splits, verbose=0,
                                          log=lambda msg: say(f"{tag}: {msg}"),
                                          hparams_experiment=False)   # the table's, at runs/
                finally:
                    timing["train_seconds"] += time.perf_counter() - t
                    write_timing(run_dir, timing)
                say(f"{tag}: trained to step {result.step} "
                    f"({timing['train_seconds']:.0f} s of training in all)")
                del result
            else:
                say(f"{tag}: trained to step {step} already ({why}); evaluating")
            t = time.perf_counter()
            results = eval_run.evaluate_run(run_dir, settings, log=lambda msg: say(f"{tag}: {msg}"))
            # eval/ as one set, samples.npz in it: the model is done when it appears
            eval_run.write_results(run_dir, results,
                                   extra_files={SAMPLES_FILE: samples_payload(results["arrays"])})
            timing["eval_seconds"] = time.perf_counter() - t
            write_timing(run_dir, timing)
            values = extract_values(results["metrics"], p.leakage_tau)["values"]
            write_trial_metrics(run_dir, values, results["metrics"]["step"], p.leakage_tau)
            status[name] = ("fitted and evaluated" if fitted else
                            "trained and evaluated" if step < p.steps else "evaluated")
            say(f"{tag}: evaluated in {timing['eval_seconds']:.0f} s: " + ", ".join(
                f"{k} {_fmt(values[k])}" for k in METRICS if values.get(k) is not None))
            del results
        except (training.TrainingDiverged, eval_run.EvaluationError, retrofitting.RetrofitError,
                FloatingPointError) as err:
            status[name] = f"failed: {err}"
            say(f"{tag}: FAILED: {err}")
        finally:
            keras.backend.clear_session()
            gc.collect()
        records = collect(request)
        write_tables(request, records, commit, time.perf_counter() - started,
                     extra={"status": status})
    bar.close()
    records = collect(request)
    figures = write_figures(request, records)
    paths = write_tables(request, records, commit, time.perf_counter() - started,
                         extra={"status": status})
    failed = [name for name, s in status.items() if s.startswith("failed")]
    say(f"table1: done in {time.perf_counter() - started:.0f} s; "
        f"{sum(r['evaluated'] for r in records.values())}/{len(records)} models evaluated"
        + (f"; failed: {', '.join(failed)}" if failed else ""))
    return {"paths": {**paths, "figures": figures, "log": say.path}, "status": status,
            "failed": failed}
