"""Post-hoc priors (issue 12): the math of fitting a prior to the codes of a frozen encoder.

Two samplers, both fitted to codes of the aggregate posterior q(z) = (1/N) Σ_n N(z; μ_n, diag σ_n²):

    fit_flow   the decoupled prior's RealNVP chain (``priors.DecoupledPrior``, eqs. 2-4) alone, by
               maximum likelihood: maximize E_{z~q(z)}[log N(g(z); 0, I) + log|det ∂g/∂z|] with Adam
    fit_gmm    a full-covariance Gaussian mixture by EM (scikit-learn), K given or chosen by BIC

**Samples, not means.** Sampling draws z ~ p(z) and decodes it, so p(z) must match the density the
decoder was trained on: z ~ q(z|x) for x in the data, i.e. the aggregate posterior q(z). Samples
z = μ(x) + σ(x)·ε are exact draws from q(z). The posterior means μ(x) are draws from a narrower
density: q(z) is the means' distribution convolved with the posteriors' spread, so a prior fitted to
the means underestimates q(z)'s covariance by E[diag σ²(x)] and puts too little mass between and
around the codes (for a 2-D latent on Fashion-MNIST, σ is a sizeable fraction of the codes' spread).
``codes="samples"`` is therefore the default; the flow draws fresh ε at every step (an unlimited
supply of q(z) samples), the mixture is fitted to one sample per training example. ``codes="means"``
is offered for comparison with the ex-post density estimation of deterministic autoencoders (Ghosh
et al. 2020, who fit μ(x) because their encoders have no σ).

The codes come from ``evaluation.sampling.encode`` (the one batch encoder); ``post_hoc.retrofit``
turns a run directory into a new run directory with the fitted prior.

#### References
Ghosh, Sajjadi, Vergari, Black, Schölkopf. From variational to deterministic autoencoders.
ICLR 2020. https://arxiv.org/abs/1903.12436
Bhalodia, Lee, Elhabian. dpVAEs: Fixing sample generation for regularized VAEs. ACCV 2020.
https://arxiv.org/abs/1911.10506
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf

from tf_dpvae.post_hoc_config import BIC_GRID
from tf_dpvae.progress import bar


def draw_codes(means, log_vars, codes: str, rng: np.random.Generator):
    """One code per example: z = μ + σ·ε, ε ~ N(0, I) (codes "samples": an exact sample of q(z)), or
    μ itself (codes "means"). means, log_vars [N, d] → [N, d] float64."""
    means = np.asarray(means, np.float64)
    if codes == "means":
        return means
    if codes != "samples":
        raise ValueError(f"codes must be 'samples' or 'means', got {codes!r}")
    return means + np.exp(0.5 * np.asarray(log_vars, np.float64)) * rng.standard_normal(means.shape)


def mean_log_prob(prior, z, batch: int = 8192) -> float:
    """(1/N) Σ_n log p(z_n) under ``prior`` (any ``priors.Prior``). z [N, d] → float."""
    values = [prior.log_prob(tf.constant(z[s:s + batch], tf.float32)).numpy()
              for s in range(0, len(z), batch)]
    return float(np.mean(np.concatenate(values).astype(np.float64)))


def fit_flow(prior, means, log_vars, codes: str = "samples", steps: int = 2000,
             batch_size: int = 512, lr: float = 3e-3, seed: int = 0, progress: bool = True,
             log_every: int = 50, on_log=None) -> dict:
    """Fit a built ``priors.DecoupledPrior`` by maximum likelihood to codes of q(z), in place.

    Loss per step: −(1/B) Σ_b log p(z_b) (eq. 2), z_b = μ_i + σ_i ε_b for B indices i drawn uniformly
    (codes "samples": fresh draws of q(z) every step) or z_b = μ_i (codes "means"). Adam with
    learning rate ``lr`` decaying by a cosine to 1 % of it over ``steps``. Indices and ε come from
    stateless generators seeded by (seed, step): the fit is a function of its arguments.

    Args:
      prior: a built ``DecoupledPrior``; its coupling networks are trained, nothing else.
      means, log_vars: [N, d] the training examples' posterior parameters.
      codes: "samples" or "means".
      steps, batch_size: Python ``int`` ≥ 1.
      lr: float > 0, the initial learning rate.
      seed: int in [0, 2**31).
      progress: show a tqdm bar with the running negative log-likelihood.
      log_every: call ``on_log(step, nll)`` every this many steps (and at the last).
    Returns: {"final_nll": mean −log p of the last ``log_every`` steps' batches, "steps", "seconds"}.
    """
    if codes not in ("samples", "means"):
        raise ValueError(f"codes must be 'samples' or 'means', got {codes!r}")
    mu = tf.constant(means, tf.float32)
    sigma = tf.constant(np.exp(0.5 * np.asarray(log_vars, np.float64)), tf.float32)
    n = int(mu.shape[0])
    variables = prior.trainable_variables
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.01)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(variables)

    @tf.function
    def step_fn(step):
        index = tf.random.stateless_uniform([batch_size], seed=tf.stack([seed, step]), maxval=n,
                                            dtype=tf.int32)
        z = tf.gather(mu, index)                                                  # [B, d]
        if codes == "samples":   # a Python constant: traced once
            eps = tf.random.stateless_normal(tf.shape(z), seed=tf.stack([seed + 1, step]))
            z = z + tf.gather(sigma, index) * eps                                 # z ~ q(z)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(prior.log_prob(z))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    started, recent = time.perf_counter(), []
    steps_bar = bar(range(steps), desc="fit flow", unit="step", leave=False, disable=not progress)
    for step in steps_bar:
        recent.append(step_fn(tf.constant(step, tf.int32)))
        if (step + 1) % log_every == 0 or step + 1 == steps:
            nll = float(np.mean([r.numpy() for r in recent]))
            recent = []
            if not math.isfinite(nll):
                raise FloatingPointError(f"the flow's negative log-likelihood became {nll} at step "
                                         f"{step + 1}; try a smaller lr")
            steps_bar.set_postfix(nll=f"{nll:.4f}")
            if on_log is not None:
                on_log(step + 1, nll)
    steps_bar.close()
    return {"final_nll": nll, "steps": steps, "seconds": time.perf_counter() - started}


def bic_grid(num_codes: int, grid=BIC_GRID) -> tuple[int, ...]:
    """The mixture sizes of ``grid`` a set of ``num_codes`` codes can support (K ≤ N)."""
    return tuple(k for k in grid if k <= num_codes) or (1,)


def fit_gmm(codes, components: int = 0, seed: int = 0, grid=BIC_GRID, progress: bool = True) -> dict:
    """A full-covariance Gaussian mixture fitted by EM (``sklearn.mixture.GaussianMixture``) to codes
    [N, d]: K = ``components``, or (components 0) the K of ``grid`` with the lowest Bayesian
    information criterion BIC = −2 log L + p log N, p = (K − 1) + K·d + K·d(d + 1)/2.

    Returns {"weights" [K], "means" [K, d], "covariances" [K, d, d] (float64), "components" K,
    "selected_by" ("bic" or "components"), "bic" {K: value} of every K fitted, "converged",
    "mean_log_likelihood" (per code, on the fitting codes), "seconds"}.
    """
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, np.float64)
    started = time.perf_counter()
    candidates = (components,) if components else bic_grid(len(codes), grid)
    fits, bic = {}, {}
    for k in bar(candidates, desc="fit gmm (K)", unit="fit", leave=False,
                 disable=not progress or len(candidates) == 1):
        gmm = GaussianMixture(n_components=k, covariance_type="full", max_iter=500,
                              random_state=seed).fit(codes)
        fits[k], bic[k] = gmm, float(gmm.bic(codes))
    best = min(bic, key=bic.get)
    gmm = fits[best]
    return {"weights": gmm.weights_, "means": gmm.means_, "covariances": gmm.covariances_,
            "components": int(best), "selected_by": "components" if components else "bic",
            "bic": {str(k): v for k, v in bic.items()}, "converged": bool(gmm.converged_),
            "mean_log_likelihood": float(gmm.score(codes)), "seconds": time.perf_counter() - started}
