"""The figures of an evaluation: what ``evaluate`` draws, from the model to the PNGs.

    figure_arrays(...)        the arrays the figures show, computed with the model: the sample
                              panels, the q(z) map's marked LP and HP samples (2-D codes), the latent
                              traversals and the z0 path
    leakage_curves(...)       the leakage figure's curves, one per variant of eq. (6)
    evaluation_figures(...)   both drawn, name → PNG bytes (``sample_panels_figure``, ``leakage_figure``,
                              ``posterior_map_figure``, ``traversal_figure``, ``plots.path_figure``)
    FIGURE_DESCRIPTIONS       what each figure shows, for TensorBoard (``evaluation.publish``)

The drawing primitives shared with training's summaries, Table 1 and the notebooks (image grids,
captions, the LP/HP definitions, the z0 path) stay in ``plots``, which imports nothing of evaluation.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_dpvae.aggregate_posterior import (aggregate_posterior_log_density,  # noqa: E402
                                          sample_aggregate_posterior)
from tf_dpvae.evaluation import sampling  # noqa: E402
from tf_dpvae.evaluation.settings import EvalSettings  # noqa: E402
from tf_dpvae.plots import (HIGH_POSTERIOR_DEFINITION, LEAKAGE_SIGN, add_caption,  # noqa: E402
                            figure_to_png, is_image, low_posterior_definition, path_figure, show_grid)

FIGURE_DESCRIPTIONS = {
    "samples": "decoded random prior samples, low-posterior samples (of lp_pool·n prior draws, the n "
               "with the lowest log q(z): pockets) and high-posterior samples (of n draws z ~ q(z), "
               "the lowest log N(h(z); 0, I): leaks)",
    "leakage": "LS(τ) of eq. (6) in its three variants (left) and the share of q(z) samples below τ "
               "(right); LS > 0: q(z) denser than the prior where the prior is below τ",
    "posterior_map": "log q(z) on a grid with the low-posterior (x) and high-posterior (+) samples",
    "traversals": "each latent dimension in turn from the 1st to the 99th percentile of μ_k, the "
                  "others at the first held-out example's code",
    "paths": "a straight line in z0 mapped through g⁻¹ against the straight line in z",
}


def leakage_curves(leak: dict, variants_coincide: bool) -> dict:
    """The leakage figure's curves: label → (τ, LS(τ), fraction below τ), one per variant drawn."""
    labels = ({"eq6_literal": "eq. 6 (h = id; all variants coincide)"} if variants_coincide
              else {"eq6_literal": "eq. 6 literal: τ on log p(z), ratio to N(g(z))",
                    "base_density": "base density N(g(z)) for both (authors' code)",
                    "full_density": "full density log p(z) for both"})
    return {label: (leak[v]["tau"], leak[v]["leakage_score"], leak[v]["fraction_below"])
            for v, label in labels.items()}


def figure_arrays(model, means, log_vars, held_out, generated, lp: sampling.LowPosterior, prior_z,
                  settings: EvalSettings, seeds) -> dict:
    """The arrays ``evaluation_figures`` draws, besides the leakage curves: the sample panels,
    the q(z) map's marked LP and HP samples (2-D codes), the latent traversals and the z0 path."""
    s = settings
    latent_dim = means.shape[1]
    vector_2d = held_out.shape[1:] == (2,)
    hp_pool_z, _ = sample_aggregate_posterior(means, log_vars, s.num_samples,
                                              np.random.default_rng(seeds["hp_pool_numpy"]))
    shown = min(s.figure_samples, s.num_samples)
    hp_z = hp_pool_z[sampling.high_posterior_indices(
        sampling.log_prior_h(model, hp_pool_z), shown)]
    arrays: dict = {"data": held_out if vector_2d else None}
    drawable = vector_2d or held_out.ndim == 4
    if drawable:
        scatter_n = shown if held_out.ndim == 4 else min(2000, s.num_samples)
        arrays["samples"] = [("random prior samples", generated[:scatter_n]),
                             ("low-posterior samples", lp.decoded[:shown]),
                             ("high-posterior samples", sampling.decode(model, hp_z))]
    if latent_dim == 2:
        marked = min(s.marked, shown)   # lp.z is sorted lowest log q first
        arrays["posterior_map"] = {"means": means, "log_vars": log_vars, "low_z": lp.z[:shown][:marked],
                                   "high_z": hp_z[:marked], "prior_z": prior_z[:2000]}
    if drawable:
        # traversals around the first held-out example's code μ: each z_k in turn over the
        # 1st-99th percentile of the training means in that dimension, the others fixed
        anchor = model.encode(held_out[:1])[0].numpy()[0].astype(np.float64)
        lo, hi = np.percentile(means, 1, axis=0), np.percentile(means, 99, axis=0)
        steps = 9
        traversal_z = np.repeat(anchor[None, None], latent_dim, 0).repeat(steps, 1)  # [d, T, d]
        for k in range(latent_dim):
            traversal_z[k, :, k] = np.linspace(lo[k], hi[k], steps)
        arrays["traversals"] = {"values": np.linspace(0, 1, steps), "decoded": sampling.decode(
            model, traversal_z.reshape(-1, latent_dim)).reshape((latent_dim, steps) + held_out.shape[1:])}
        # a straight line in z0 between g(μ_a) and g(μ_b), through g⁻¹, against the straight line in z
        rng = np.random.default_rng(seeds["paths_numpy"])
        a, b = means[rng.choice(len(means), 2, replace=False)]
        z0_a, z0_b = (model.prior.forward(tf.constant(v[None], tf.float32))[0].numpy()[0]
                      for v in (a, b))
        w = np.linspace(0, 1, 12)[:, None]
        z_of_z0 = model.prior.inverse(tf.constant((1 - w) * z0_a + w * z0_b, tf.float32)).numpy()
        z_line = (1 - w) * a + w * b
        arrays["paths"] = {"z_of_z0_path": z_of_z0, "z_straight": z_line,
                           "decoded_z0_path": sampling.decode(model, z_of_z0),
                           "decoded_straight": sampling.decode(model, z_line), "means": means[:3000]}
    return arrays


# ------------------------------------------------------------------------------ drawing
def sample_panels_figure(panels, data=None, title="", caption=""):
    """Side-by-side panels of decoded samples: ``panels`` is a list of (title, samples).

    2-D vector samples [n, 2] are scattered over ``data`` [N, 2] (grey); images [n, H, W, C] become
    grids (row-major, 8 per row). Other shapes are not drawn (the caller skips them). ``caption``: a
    note under the panels (what the samples are).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), constrained_layout=True,
                             squeeze=False)
    for ax, (name, samples) in zip(axes[0], panels):
        if is_image(samples):
            show_grid(ax, samples)
        else:
            if data is not None:
                ax.scatter(data[:, 0], data[:, 1], s=2, c="0.8", label="held-out data")
            ax.scatter(samples[:, 0], samples[:, 1], s=4, c="tab:red", label="samples")
            ax.legend(loc="lower left", markerscale=3, fontsize=8)
        ax.set_title(f"{name} (n={len(samples)})")
    if title:
        fig.suptitle(title)
    if caption:
        add_caption(fig, caption)
    return fig


def leakage_figure(curves, title=""):
    """LS(τ) against τ (paper Fig. 4). curves: dict label → (taus [T], scores [T], fraction_below [T]);
    each curve's τ is on its own threshold density (evaluation/leakage.py), which its label names."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for label, (taus, scores, fraction) in curves.items():
        ax.plot(taus, scores, "o-", label=label)
        ax2.plot(taus, fraction, "o-", label=label)
    ax.set_xlabel("threshold τ on the log prior density")
    ax.set_ylabel("leakage score LS(τ) = E_q[S_τ(z)]")
    ax.set_title("leakage score (eq. 6)")
    ax.legend(fontsize=8)
    ax2.set_xlabel("threshold τ on the log prior density")
    ax2.set_ylabel("fraction of q(z) samples below τ")
    ax2.set_yscale("symlog", linthresh=1e-3)
    ax2.set_title("share of q(z) samples in the leak region")
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    ax.axhline(0.0, color="0.5", lw=0.6)
    if title:
        fig.suptitle(title)
    add_caption(fig, LEAKAGE_SIGN + ". eq. 6 literal: threshold on log p(z) (dp: with log|det ∂g/∂z|), ratio "
             "against N(g(z); 0, I) without it, so a dp model's S_τ carries its log-determinant; "
             "full density: both on log p(z); base density: both on N(g(z); 0, I) (authors' code).")
    return fig


def posterior_map_figure(means, log_vars, low_z, high_z, prior_z=None, title=""):
    """q(z) on a grid (2-D latents) with low-posterior (pockets) and high-posterior (leaks) samples
    marked (paper Fig. 3b). means, log_vars [N, 2]; low_z, high_z [k, 2]; prior_z [S, 2] optional."""
    points = np.concatenate([means, low_z, high_z])
    lo = np.percentile(points, 0.5, axis=0) - 1.0
    hi = np.percentile(points, 99.5, axis=0) + 1.0
    lo, hi = np.minimum(lo, np.min(np.concatenate([low_z, high_z]), 0) - 0.3), np.maximum(
        hi, np.max(np.concatenate([low_z, high_z]), 0) + 0.3)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    log_q = aggregate_posterior_log_density(np.stack([gx.ravel(), gy.ravel()], 1), means,
                                            log_vars).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    im = ax.pcolormesh(gx, gy, np.maximum(log_q, log_q.max() - 15), shading="auto", cmap="magma")
    fig.colorbar(im, ax=ax, label="log q(z) (clipped 15 nats below its maximum)")
    if prior_z is not None:
        ax.scatter(prior_z[:, 0], prior_z[:, 1], s=1, c="white", alpha=0.3, label="prior samples")
    ax.scatter(low_z[:, 0], low_z[:, 1], s=30, marker="x", c="cyan", label="low-posterior (pockets)")
    ax.scatter(high_z[:, 0], high_z[:, 1], s=30, marker="+", c="lime", label="high-posterior (leaks)")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.legend(loc="lower left", fontsize=8, markerscale=1.5)
    ax.set_title(title or "aggregate posterior q(z) with LP and HP samples")
    return fig


def traversal_figure(values, decoded, data=None, title=""):
    """Latent traversals: row k varies z_k over ``values`` [T] with the other dimensions fixed.

    decoded: [d, T, ...] decodings. Images: a d×T grid. 2-D vectors: one curve per dimension in data
    space, over ``data`` (grey).
    """
    d, t = decoded.shape[:2]
    if decoded.ndim == 5:
        fig, ax = plt.subplots(figsize=(1.0 * t, 1.0 * d + 0.6), constrained_layout=True)
        show_grid(ax, decoded.reshape((d * t,) + decoded.shape[2:]), columns=t)
        ax.set_ylabel("latent dimension (top = z_1)")
        ax.set_xlabel(f"z_k from {values[0]:.2f} to {values[-1]:.2f}")
    else:
        fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
        if data is not None:
            ax.scatter(data[:, 0], data[:, 1], s=2, c="0.8")
        for k in range(d):
            ax.plot(decoded[k, :, 0], decoded[k, :, 1], "o-", ms=3, label=f"vary z_{k + 1}")
        ax.legend(fontsize=8)
    ax.set_title(title or "latent traversals")
    return fig


def evaluation_figures(arrays, curves, tag, lp_pool=None):
    """The figures of an evaluation, name → PNG bytes, from the arrays ``figure_arrays`` computes:
    ``samples`` (panels of ``sample_panels_figure``), ``leakage`` (``curves``: ``leakage_curves``'s,
    as ``leakage_figure`` takes them), ``posterior_map`` (2-D codes), ``traversals`` and ``paths``; an
    entry missing from ``arrays`` is not drawn. ``arrays["data"]``: the held-out 2-D points drawn
    behind samples (None for other data); tag: the model and step, in every title; lp_pool: the
    low-posterior pool's factor K, said in the samples' caption."""
    data = arrays.get("data")
    figures = {}
    if "samples" in arrays:
        figures["samples"] = figure_to_png(sample_panels_figure(
            arrays["samples"], data=data, title=tag,
            caption=f"random prior samples: z = g⁻¹(ε), ε ~ N(0, I), decoded E[x | z]. "
                    f"{low_posterior_definition(lp_pool)}, lowest first. {HIGH_POSTERIOR_DEFINITION}."))
    figures["leakage"] = figure_to_png(leakage_figure(curves, title=tag))
    if "posterior_map" in arrays:
        m = arrays["posterior_map"]
        figures["posterior_map"] = figure_to_png(posterior_map_figure(
            m["means"], m["log_vars"], m["low_z"], m["high_z"], prior_z=m["prior_z"],
            title=f"log q(z) with {len(m['low_z'])} LP (x) and HP (+) samples; {tag}"))
    if "traversals" in arrays:
        t = arrays["traversals"]
        figures["traversals"] = figure_to_png(traversal_figure(
            t["values"], t["decoded"], data=data,
            title=f"latent traversals (1st-99th percentile of μ_k); {tag}"))
    if "paths" in arrays:
        figures["paths"] = figure_to_png(path_figure(**arrays["paths"], data=data, title=tag))
    return figures
