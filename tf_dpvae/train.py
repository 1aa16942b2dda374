"""Command line: ``python -m tf_dpvae.train --reg factor`` (see ``--help``).

Thin by design: parse, validate into a ``RunConfig`` (a bad value exits with status 2 and one line,
before anything is written), call ``training.fit``, print where everything went.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from tf_dpvae.cli import OneLineParser
from tf_dpvae.config import (ARCHS, LIKELIHOODS, LR_SCHEDULES, MIXED_PRECISION, MMD_KERNELS,
                             PRIORS, REGULARIZERS, STRATEGIES, TC_ESTIMATORS, ConfigError,
                             RunConfig, read_config_file)
from tf_dpvae.quiet import import_tensorflow_quietly

# flag destination -> (config section, field)
FIELDS = {
    "prior": ("prior", "kind"), "flow_blocks": ("prior", "num_blocks"),
    "flow_units": ("prior", "hidden_units"), "flow_layers": ("prior", "hidden_layers"),
    "flow_scale_bound": ("prior", "scale_bound"),
    "reg": ("objective", "reg"), "beta": ("objective", "beta"),
    "capacity_gamma": ("objective", "capacity_gamma"), "capacity_max": ("objective", "capacity_max"),
    "capacity_steps": ("objective", "capacity_steps"),
    "tc_alpha": ("objective", "tc_alpha"), "tc_beta": ("objective", "tc_beta"),
    "tc_gamma": ("objective", "tc_gamma"), "tc_estimator": ("objective", "tc_estimator"),
    "dataset_size": ("objective", "dataset_size"),
    "factor_gamma": ("objective", "factor_gamma"), "disc_units": ("objective", "disc_units"),
    "disc_layers": ("objective", "disc_layers"), "disc_lr": ("objective", "disc_lr"),
    "info_alpha": ("objective", "info_alpha"), "info_lambda": ("objective", "info_lambda"),
    "mmd_kernel": ("objective", "mmd_kernel"), "mmd_scale": ("objective", "mmd_scale"),
    "reg_warmup_steps": ("objective", "reg_warmup_steps"),
    "latent_dim": ("model", "latent_dim"), "hidden_units": ("model", "hidden_units"),
    "hidden_layers": ("model", "hidden_layers"), "likelihood": ("model", "likelihood"),
    "obs_std": ("model", "obs_std"), "arch": ("model", "arch"),
    "conv_filters": ("model", "conv_filters"), "conv_units": ("model", "conv_units"),
    "data_dir": ("data", "data_dir"), "download": ("data", "download"),
    "image_size": ("data", "image_size"),
    "dataset": ("data", "dataset"), "num_examples": ("data", "num_examples"),
    "noise": ("data", "noise"),
    "epochs": ("train", "epochs"), "steps": ("train", "steps"),
    "batch_size": ("train", "batch_size"), "lr": ("train", "lr"), "seed": ("train", "seed"),
    "lr_schedule": ("train", "lr_schedule"), "lr_final_fraction": ("train", "lr_final_fraction"),
    "warmup_steps": ("train", "warmup_steps"), "clip_norm": ("train", "clip_norm"),
    "log_every": ("train", "log_every"),
    "strategy": ("train", "strategy"), "devices": ("train", "devices"),
    "mixed_precision": ("train", "mixed_precision"), "jit": ("train", "jit"),
}


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m tf_dpvae.train",
                      description="Train a regularized VAE, with or without the decoupled prior.",
                      argument_default=argparse.SUPPRESS)
    p.add_argument("--reg", choices=REGULARIZERS, help="objective (default: factor)")
    p.add_argument("--prior", choices=PRIORS, help="dp = decoupled RealNVP prior (default), "
                   "normal = N(0, I)")
    p.add_argument("--dataset", help="data set: moons (default, generated offline), fashion_mnist "
                   "(offline from Debian's dataset-fashion-mnist, else TFDS), mnist, svhn_cropped, "
                   "celeb_a or any TFDS image data set, npz:PATH, folder:PATH")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="start from this JSON configuration (a run's config.json, or best_config.json "
                   "from python -m tf_dpvae.tune); flags given as well override its values")
    p.add_argument("--out", default=None, help="run directory; rerun with the same one to resume "
                   "(default: runs/<reg>-<prior>-<dataset>)")
    p.add_argument("--no-export", dest="export", action="store_false", default=True,
                   help="skip the SavedModel export for TF Serving at the end (default: export to "
                   "saved_models/<run directory name>/<next version>)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, help="epochs (default 25)")
    g.add_argument("--steps", type=int, help="stop after N training steps in total, counting those before a "
                   "resumption (0 = no limit; --epochs still bounds the run)")
    g.add_argument("--batch-size", type=int, help="batch size B (default 100)")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="cosine (default): warm-up, then "
                   "cosine decay from --lr to --lr × --lr-final-fraction over the run; constant")
    g.add_argument("--lr-final-fraction", type=float, help="final learning rate as a fraction of "
                   "--lr (default 0.01)")
    g.add_argument("--warmup-steps", type=int, help="linear learning-rate warm-up steps (default 100)")
    g.add_argument("--reg-warmup-steps", type=int, help="ramp from the plain ELBO to the full "
                   "regularized objective over N steps (default 0 = off)")
    g.add_argument("--clip-norm", type=float, help="clip the VAE gradients' global norm (default 0 "
                   "= off)")
    g.add_argument("--seed", type=int, help="seed for data, weights and sampling (default 0)")
    g.add_argument("--log-every", type=int, help="TensorBoard training scalars every N steps "
                   "(default 50)")
    g = p.add_argument_group("devices and speed (--batch-size is the global batch)")
    g.add_argument("--strategy", choices=STRATEGIES,
                   help="tf.distribute strategy: one device, mirrored over local GPUs (or --devices), "
                        "multiworker across processes set by TF_CONFIG; auto (default) = mirrored "
                        "if there are several GPUs, else one")
    g.add_argument("--devices", help="comma-separated devices for one/mirrored, e.g. /gpu:0,/gpu:1")
    g.add_argument("--mixed-precision", choices=MIXED_PRECISION,
                   help="compute in bfloat16/float16 with float32 variables (the flow, the KL and "
                        "the losses stay float32; float16 adds loss scaling); default off")
    g.add_argument("--jit", action="store_const", const=True,
                   help="XLA-compile the training step (slower on these CPUs; measure)")
    g = p.add_argument_group("model")
    g.add_argument("--latent-dim", type=int, help="latent size L (default 2)")
    g.add_argument("--hidden-units", type=int, help="MLP encoder/decoder width (default 128)")
    g.add_argument("--hidden-layers", type=int, help="MLP hidden layers (default 3)")
    g.add_argument("--likelihood", choices=LIKELIHOODS, help="p(x|z) (default gaussian)")
    g.add_argument("--obs-std", type=float, help="σ_x of the Gaussian likelihood (default 0.1)")
    g.add_argument("--arch", choices=ARCHS, help="encoder/decoder: auto (default) = mlp for vectors, "
                   "beta_mnist for 28×28, conv32 for 32×32, conv64 for 64×64 images; factor_mnist "
                   "= the reference FactorVAE network (28×28)")
    g.add_argument("--conv-filters", type=int, help="base filter count f of the conv networks "
                   "(default 32)")
    g.add_argument("--conv-units", type=int, help="dense width of the conv networks (default 256)")
    g = p.add_argument_group("image data")
    g.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR or "
                   "~/tensorflow_datasets)")
    g.add_argument("--download", action="store_true", help="let TFDS download a data set that is "
                   "not prepared (needs internet; without it a missing data set stops the run at once)")
    g.add_argument("--image-size", type=int, help="centre-crop to a square and resize to N×N "
                   "(default: native size; celeb_a 64)")
    g = p.add_argument_group("two moons")
    g.add_argument("--num-examples", type=int, help="training points (default 10000)")
    g.add_argument("--noise", type=float, help="sklearn make_moons noise (default 0.05)")
    g = p.add_argument_group("decoupled prior (RealNVP, eqs. 3-4)")
    g.add_argument("--flow-blocks", type=int, help="number of coupling blocks K (default 6)")
    g.add_argument("--flow-units", type=int, help="hidden width of s_k, t_k (default 64)")
    g.add_argument("--flow-layers", type=int, help="hidden layers of s_k, t_k (default 2)")
    g.add_argument("--flow-scale-bound", type=float, help="bound on |s_k| (default 1)")
    g = p.add_argument_group("beta: β-VAE-H")
    g.add_argument("--beta", type=float, help="weight β of the KL (default 5)")
    g = p.add_argument_group("betab: β-VAE-B")
    g.add_argument("--capacity-gamma", type=float, help="weight γ of |KL − C| (default 15)")
    g.add_argument("--capacity-max", type=float, help="final capacity C_max, nats per example "
                   "(default 5)")
    g.add_argument("--capacity-steps", type=int, help="steps over which C rises to C_max "
                   "(default 2000)")
    g = p.add_argument_group("tc: β-TCVAE")
    g.add_argument("--tc-alpha", type=float, help="weight α of the index-code MI (default 1)")
    g.add_argument("--tc-beta", type=float, help="weight β of the total correlation (default 6)")
    g.add_argument("--tc-gamma", type=float, help="weight γ of the dimension-wise KL (default 1)")
    g.add_argument("--tc-estimator", choices=TC_ESTIMATORS, help="mss = minibatch-stratified "
                   "(default), mws = minibatch-weighted")
    g.add_argument("--dataset-size", type=int, help="N in the estimators (default: training size)")
    g = p.add_argument_group("factor: FactorVAE")
    g.add_argument("--factor-gamma", type=float, help="weight γ of the TC (default 10)")
    g.add_argument("--disc-units", type=int, help="discriminator width (default 1000)")
    g.add_argument("--disc-layers", type=int, help="discriminator hidden layers (default 5)")
    g.add_argument("--disc-lr", type=float, help="discriminator Adam learning rate (default 1e-4)")
    g = p.add_argument_group("info: InfoVAE-MMD")
    g.add_argument("--info-alpha", type=float, help="α: KL weight is 1 − α (default 0)")
    g.add_argument("--info-lambda", type=float, help="λ: MMD weight is α + λ − 1 (default 100)")
    g.add_argument("--mmd-kernel", choices=MMD_KERNELS, help="MMD kernel (default imq)")
    g.add_argument("--mmd-scale", type=float, help="kernel bandwidth σ (default 1)")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The configuration: defaults, then the ``--config`` file if given, then the flags."""
    base = read_config_file(args.config) if getattr(args, "config", None) else RunConfig()
    sections: dict[str, dict] = {}
    for dest, value in vars(args).items():
        if dest in FIELDS:
            section, field = FIELDS[dest]
            sections.setdefault(section, {})[field] = value
    return base.replace(**sections)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        config = config_from_args(args)
    except ConfigError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    if config.train.strategy == "multiworker":
        from tf_dpvae.distribute import parse_tf_config  # no TensorFlow import
        try:
            parse_tf_config(os.environ.get("TF_CONFIG"))
        except ConfigError as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 2
    # npz:/a/b.npz must not become a nested path under runs/
    dataset_tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.data.dataset).strip("_")
    out = args.out or os.path.join(
        "runs", f"{config.objective.reg}-{config.prior.kind}-{dataset_tag}")
    if os.path.exists(out) and not os.path.isdir(out):
        print(f"{prog}: error: --out {out!r} is a file; give a directory", file=sys.stderr)
        return 2

    import_tensorflow_quietly()
    from tf_dpvae import training  # TensorFlow loads only once the arguments are known to be good
    from tf_dpvae.data import DataError

    try:
        result = training.fit(config, out)
    except (ConfigError, DataError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except training.TrainingDiverged as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    print(f"\nrun directory:   {result.out_dir} (step {result.step}"
          f"{f', resumed from step {result.resumed_from}' if result.resumed_from else ''})")
    print(f"configuration:   {os.path.join(out, 'config.json')}")
    print(f"checkpoint:      {result.checkpoint} (latest: training resumes here)")
    if result.best_checkpoint:
        print(f"best checkpoint: {result.best_checkpoint} (validation negative ELBO "
              f"{result.best_value:.4g}; export and evaluate use it)")
    if result.figure:
        print(f"figure:          {result.figure}")
    if result.final_logs:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.final_logs.items()))
        print(f"final metrics:   {shown}")
    print(f"inspect with:    tensorboard --logdir {os.path.join(out, 'logs')} --host 127.0.0.1")
    return export_after_training(prog, out) if args.export else 0


def export_after_training(prog: str, out: str) -> int:
    """The serving export of the finished run (issue 5); its failure leaves the run intact."""
    from tf_dpvae.export import savedmodel

    try:
        result = savedmodel.export_run(out, skip_if_exported=True)
    except Exception as err:  # noqa: BLE001 - reported in one line; training itself succeeded
        print(f"{prog}: export failed ({type(err).__name__}: {err}); the run is intact, retry with "
              f"python -m tf_dpvae.export {out}", file=sys.stderr)
        return 1
    print(f"saved model:     {result.path}"
          f"{' (unchanged since the last export)' if result.reused else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
