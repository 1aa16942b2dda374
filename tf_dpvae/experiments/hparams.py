"""A table's TensorBoard HParams: one experiment in ``<out>/runs/table1_experiment`` whose sessions are the models
(training writes each run's session; a post-hoc row's is written here) and whose metrics are the
table's numbers (``write_trial_metrics``, group ``table1`` of each session)."""

from __future__ import annotations

import os

from tf_dpvae import runs
from tf_dpvae.config import PRIORS, REGULARIZERS
from tf_dpvae.experiments.markdown import tau_tag
from tf_dpvae.experiments.protocol import POST_HOC
from tf_dpvae.experiments.results import PRDC

# The run's HParams session is training's (summaries.write_hparams, in logs/run); the table's numbers
# go under it as metrics of group "table1" (TensorBoard reads group G from <session run>/G). A
# post-hoc row, which has no training, gets its session here.
SESSION_DIR = os.path.join(runs.LOG_DIR, "run")
HPARAMS_DIR = os.path.join(SESSION_DIR, "table1")
EXPERIMENT_RUN = "table1_experiment"   # under runs/: the HParams experiment of the table
HPARAMS_CONFIG_SUFFIX = ".table1-hparams"


def table_scalar_tags(tau: float) -> dict[str, str]:
    """The TensorBoard tag of each table value (the HParams dashboard's metrics)."""
    return {"fd": "table1/fd_random", "lp_fd": "table1/fd_low_posterior",
            "lp_fd_ratio": "table1/lp_fd_ratio", "skl": "table1/skl", "nll": "table1/nll_is",
            "neg_elbo": "table1/neg_elbo", "leakage": f"table1/leakage_ls_tau{tau_tag(tau)}",
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
