"""Figures: the two-moons picture in the manner of the paper's Figures 1 and 3, the image grids of
training's summaries, and the figures Table 1, the benchmarks and the notebooks share (KL-sorted
traversals, z0 paths, leakage comparisons, sample sheets, pockets and leaks). The figures of one
evaluation are ``evaluation.figures``'s, drawn with the primitives here; this module imports nothing
of ``evaluation``.

The moons picture's panels:
(a) generated samples in data space over the training data, coloured by the prior density of
the code that generated them; (b) the aggregate posterior q(z) = (1/N) Σ_n N(z; μ_n, σ_n²) in the
representation space with the prior samples on top (where samples fall in low-q(z) "pockets", they are
off the data manifold); (c) for the decoupled prior, the training codes in the generation space z0 = g(μ).
"""

from __future__ import annotations

import functools
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tf_dpvae.aggregate_posterior import aggregate_posterior_log_density  # noqa: E402


def low_posterior_definition(lp_pool: int | None = None) -> str:
    """What "low-posterior samples" are (paper §4.1), for the figures that show them."""
    pool = f"{lp_pool}·n" if lp_pool else "a pool of"
    return (f"low-posterior samples: of {pool} prior draws z = g⁻¹(ε), ε ~ N(0, I), the n with the lowest "
            "aggregate posterior log q(z), q(z) = (1/N) Σ N(z; μ_n, σ_n²) over the training set "
            "(pockets: the prior draws them, no training code is near)")


HIGH_POSTERIOR_DEFINITION = ("high-posterior samples: of n draws z ~ q(z), those with the lowest "
                             "prior density log N(h(z); 0, I), h = g (dp) or the identity (leaks)")
LEAKAGE_SIGN = ("LS(τ) = E_q[S_τ(z)], S_τ = log q(z) − (ratio density) where the threshold density < τ, "
                "else 0; in nats. LS > 0: where the prior is below τ, q(z) is denser than the prior "
                "(a leak); LS < 0: less dense; 0: no q(z) sample below τ")


def add_caption(fig, text: str) -> None:
    """A small wrapped note under the axes (constrained layout leaves room for it)."""
    import textwrap

    width = int(fig.get_figwidth() * 100 / 5.6)   # characters per line at fontsize 7.5
    fig.supxlabel("\n".join(textwrap.wrap(text, width)), fontsize=7.5, color="0.25")


# Fixed scales of the figure that TensorBoard shows every few epochs, so that the slider compares
# like with like: the representation and generation spaces' box, log q(z) and log p(z) colour ranges.
FIXED_SCALES = {"z": (-5.0, 5.0), "log_q": (-10.0, 1.0), "log_p": (-12.0, 0.0)}


def moons_figure(data, samples, sample_log_prob, means, log_vars, z0_of_means=None, title="",
                 prior_z=None, prior_z0=None, scales=None):
    """The figure as a matplotlib ``Figure``; arrays are NumPy.

    data [N, 2] training points; samples [S, 2] decoded prior samples; sample_log_prob [S] log p(z) of
    their codes; means, log_vars [N, d] training encodings; z0_of_means [N, d] or None (normal prior);
    prior_z [S, d] the prior samples' codes z = g⁻¹(ε) and prior_z0 [S, d] their ε, drawn over panels
    (b) and (c) (where they fall in low-q(z) pockets, their decodings are off the manifold); scales:
    ``FIXED_SCALES`` to keep axes and colours fixed (else fitted to the arrays).
    """
    panels = 3 if z0_of_means is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.6), constrained_layout=True)
    fixed = scales or {}
    ax = axes[0]
    ax.scatter(data[:, 0], data[:, 1], s=2, c="0.75", label="training data")
    order = np.argsort(sample_log_prob)
    low, high = fixed.get("log_p", (None, None))
    sc = ax.scatter(samples[order, 0], samples[order, 1], s=4, c=sample_log_prob[order],
                    cmap="viridis", vmin=low, vmax=high, label="samples")
    fig.colorbar(sc, ax=ax, label="log p(z) of the sample's code")
    ax.set(title="(a) generated samples (data space)", xlabel="x₁", ylabel="x₂")
    ax.legend(loc="lower left", markerscale=3, fontsize=8)
    _posterior_panel(fig, axes[1], means, log_vars, prior_z, fixed)
    if z0_of_means is not None:
        ax = axes[2]
        ax.scatter(z0_of_means[:, 0], z0_of_means[:, 1], s=2, c="tab:blue", alpha=0.5,
                   label="g(μ) of training data")
        if prior_z0 is not None:
            ax.scatter(prior_z0[:, 0], prior_z0[:, 1], s=2, c="tab:orange", alpha=0.5,
                       label="prior samples ε ~ N(0, I)")
        t = np.linspace(0, 2 * np.pi, 200)
        for r in (1, 2, 3):
            ax.plot(r * np.cos(t), r * np.sin(t), "k--", lw=0.7)
        if "z" in fixed:
            ax.set_xlim(*fixed["z"])
            ax.set_ylim(*fixed["z"])
        ax.set_aspect("equal")
        ax.set(title="(c) generation space z0 = g(z); N(0, I) at 1-3σ", xlabel="z0₁", ylabel="z0₂")
        ax.legend(loc="lower left", markerscale=3, fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _posterior_panel(fig, ax, means, log_vars, prior_z, fixed):
    """Panel (b): log q(z) on a grid (2-D codes) or the means' first two dimensions, with the prior
    samples' codes on top."""
    if "z" in fixed:
        lo, hi = np.full(2, fixed["z"][0]), np.full(2, fixed["z"][1])
    else:
        lo = np.percentile(means[:, :2], 0.5, axis=0) - 1.0
        hi = np.percentile(means[:, :2], 99.5, axis=0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    if means.shape[1] == 2:
        log_q = aggregate_posterior_log_density(grid, means, log_vars).reshape(gx.shape)
        low, high = fixed.get("log_q", (log_q.max() - 12.0, log_q.max()))
        im = ax.pcolormesh(gx, gy, np.clip(log_q, low, high), shading="auto", cmap="magma",
                           vmin=low, vmax=high)
        fig.colorbar(im, ax=ax, label="log q(z)")
        ax.set_title("(b) aggregate posterior log q(z) (representation space)")
    else:
        ax.scatter(means[:, 0], means[:, 1], s=2, c="0.4", label="posterior means")
        ax.set_title("(b) posterior means, dims 1-2 (representation space)")
    if prior_z is not None:
        ax.scatter(prior_z[:, 0], prior_z[:, 1], s=2, c="tab:cyan", alpha=0.6,
                   label="prior samples z = g⁻¹(ε)")
        ax.legend(loc="lower left", markerscale=3, fontsize=8)
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="z₁", ylabel="z₂")


def figure_to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def image_grid(images, columns: int = 8, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images into one picture. images [N, H, W, C] (values clipped to [0, 1]) →
    float32 [R·(H + pad) + pad, columns·(W + pad) + pad, C], R = ⌈N / columns⌉, row-major; empty
    cells and the ``pad``-pixel borders are ``pad_value`` (white by default)."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"image_grid takes a non-empty batch [N, H, W, C]; got {images.shape}")
    n, height, width, channels = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels),
                   pad_value, np.float32)
    for i, image in enumerate(images):
        top = pad + (i // columns) * (height + pad)
        left = pad + (i % columns) * (width + pad)
        grid[top:top + height, left:left + width] = image
    return grid


def side_by_side(*grids, gap: int = 8, pad_value: float = 1.0) -> np.ndarray:
    """Grids [H_i, W_i, C] next to each other, top-aligned, ``gap`` pixels apart → [max H, ΣW + gaps, C]."""
    height = max(g.shape[0] for g in grids)
    parts = []
    for i, g in enumerate(grids):
        if i:
            parts.append(np.full((height, gap, g.shape[2]), pad_value, np.float32))
        padded = np.full((height,) + g.shape[1:], pad_value, np.float32)
        padded[:g.shape[0]] = g
        parts.append(padded)
    return np.concatenate(parts, axis=1)


@functools.lru_cache(maxsize=64)
def _text_strip(text: str, width: int, height: int) -> np.ndarray:
    """``text`` rendered black on white, centred, into float32 [height, width] (matplotlib, once per
    (text, width, height): the per-epoch image summaries reuse it)."""
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=max(6.0, 0.6 * height))
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba(), np.float32)[..., :3] / 255.0
    plt.close(fig)
    strip = rgba.mean(axis=-1)
    out = np.ones((height, width), np.float32)   # the canvas can round a pixel off either way
    out[:min(height, strip.shape[0]), :min(width, strip.shape[1])] = strip[:height, :width]
    return out


def labelled(grid: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """A grid [H, W, C] with ``text`` written in a white strip above it → [height + H, W, C], so that
    an image summary says what it shows in the picture itself."""
    strip = np.repeat(_text_strip(text, grid.shape[1], height)[..., None], grid.shape[2], axis=-1)
    return np.concatenate([strip, grid.astype(np.float32)], axis=0)


# ----------------------------------------------------------------- grids on axes, traversals, paths
def is_image(array):
    """Whether a batch of samples is images [n, H, W, C] (else vectors [n, d])."""
    return array.ndim == 4


def show_grid(ax, images, columns=8):
    """``images`` [n, H, W, C] as one ``image_grid`` on ``ax``, grey for one channel, no ticks."""
    grid = image_grid(images, columns)
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def kl_order(kl):
    """Dimensions by descending KL (ties keep the lower index first). kl [d] → int [d]."""
    return np.argsort(-np.asarray(kl, np.float64), kind="stable")


def kl_sorted_traversal_figure(panels, offsets, title="", inactive_below=0.01):
    """Latent traversals per dimension, sorted by KL (paper Fig. 6), one panel per model side by side.

    panels: a list of (label, decoded [d, T, H, W, C], kl [d]); row r of a panel shows dimension
    ``kl_order(kl)[r]``, labelled with its index and KL. offsets [T]: the traversal's steps, printed
    under the columns (e.g. multiples of the marginal's standard deviation s_k). Rows whose KL is
    below ``inactive_below`` (nats) are labelled "inactive".
    """
    offsets = np.asarray(offsets, np.float64)
    d, t = panels[0][1].shape[:2]
    fig, axes = plt.subplots(1, len(panels), figsize=(0.75 * t * len(panels) + 1.4 * len(panels),
                                                       0.75 * d + 1.2),
                             constrained_layout=True, squeeze=False)
    for ax, (label, decoded, kl) in zip(axes[0], panels):
        if decoded.shape[:2] != (len(kl), len(offsets)):
            raise ValueError(f"{label}: decoded is {decoded.shape[:2]}, expected ({len(kl)}, "
                             f"{len(offsets)}) rows × steps")
        order = kl_order(kl)
        rows = decoded[order]                                                # [d, T, H, W, C]
        h = decoded.shape[2]
        show_grid(ax, rows.reshape((-1,) + decoded.shape[2:]), columns=len(offsets))
        pitch = h + 2  # image_grid's pad
        ax.set_yticks([2 + pitch * r + (h - 1) / 2 for r in range(len(order))])
        ax.set_yticklabels([f"z{k + 1}  KL {kl[k]:.2f}" + ("  inactive" if kl[k] < inactive_below else "")
                            for k in order], fontsize=8)
        ax.set_xticks([2 + pitch * c + (h - 1) / 2 for c in range(len(offsets))])
        ax.set_xticklabels([f"{o:+g}" for o in offsets], fontsize=8)
        ax.tick_params(length=0)
        ax.axis("on")
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(label, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def path_figure(z_of_z0_path, z_straight, decoded_z0_path, decoded_straight, means=None,
                data=None, title=""):
    """A straight line in z0 mapped through g⁻¹ against the straight line in z between the same
    endpoints (paper Fig. 5). z paths [T, d]; decodings [T, ...]."""
    if decoded_z0_path.ndim == 4:
        fig, axes = plt.subplots(2, 1, figsize=(1.0 * len(z_straight), 2.8), constrained_layout=True)
        show_grid(axes[0], decoded_z0_path, columns=len(z_straight))
        axes[0].set_title("linear path in z0, mapped through g⁻¹")
        show_grid(axes[1], decoded_straight, columns=len(z_straight))
        axes[1].set_title("straight path in z")
    else:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
        ax = axes[0]
        if means is not None:
            ax.scatter(means[:, 0], means[:, 1], s=2, c="0.8", label="training μ")
        ax.plot(z_of_z0_path[:, 0], z_of_z0_path[:, 1], "o-", ms=3, label="g⁻¹(linear path in z0)")
        ax.plot(z_straight[:, 0], z_straight[:, 1], "s--", ms=3, label="straight path in z")
        ax.set_title("representation space z (dims 1-2)")
        ax.legend(fontsize=8)
        ax = axes[1]
        if data is not None:
            ax.scatter(data[:, 0], data[:, 1], s=2, c="0.8", label="held-out data")
        if decoded_z0_path.shape[-1] >= 2:
            ax.plot(decoded_z0_path[:, 0], decoded_z0_path[:, 1], "o-", ms=3, label="decoded z0 path")
            ax.plot(decoded_straight[:, 0], decoded_straight[:, 1], "s--", ms=3,
                    label="decoded z path")
        ax.set_title("data space")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------------ Table 1 figures
def leakage_comparison_figure(curves, tau_mark=None, title=""):
    """The leakage curves LS(τ) of several models, in the manner of the paper's Fig. 4: (a) eq. (6) as
    written (the table's cell) and, when the curves carry it, (b) the full-density variant.

    ``curves``: a list of dicts with ``label`` (the pair's name: one colour per pair, in order of
    first appearance), ``prior`` ("normal" → dashed, "dp" → solid), optional ``name`` (the model's
    own name in the legend, e.g. "FactorVAE" / "Factor-dpVAE"; default "label (prior)"), ``tau`` [T]
    and ``score`` [T] (eq. 6 literal), optional ``full_score`` [T] (threshold and ratio on the full
    log p(z)); None or NaN leaves a gap. ``tau_mark`` draws a vertical line at that τ.

    Why two panels: eq. (6) thresholds on log p(z) but divides by N(g(z); 0, I), which lacks the
    flow's log|det ∂g/∂z|. For a dp model S_τ(z) = [log q(z) − log p(z)] + log|det ∂g/∂z|, so where
    most q(z) samples are below τ its LS(τ) sits near E_q[log|det ∂g/∂z|] (about −4 for the d = 10
    Fashion-MNIST flows): the dp curves of (a) overlap there because of the log-determinant, not
    because of leaks. (b) compares log q(z) with the density the prior really has, log p(z).
    A y-axis turns symmetric-log when its values span orders of magnitude.
    """
    full = any(c.get("full_score") is not None for c in curves)
    fig, axes = plt.subplots(1, 2 if full else 1, figsize=(13.5 if full else 7.5, 5.2),
                             constrained_layout=True, squeeze=False)
    panels = [("score", "(a) eq. (6) as written: τ on log p(z), ratio to N(g(z); 0, I)")]
    if full:
        panels.append(("full_score", "(b) full density: τ on log p(z), ratio to log p(z)"))
    colours = {}
    for ax, (key, heading) in zip(axes[0], panels):
        values = []
        for curve in curves:
            colour = colours.setdefault(curve["label"], f"C{len(colours) % 10}")
            dp = curve["prior"] == "dp"
            raw = curve.get(key)
            if raw is None:
                continue
            tau = np.asarray(curve["tau"], np.float64)
            score = np.asarray([np.nan if v is None else v for v in raw], np.float64)
            order = np.argsort(tau)
            name = curve.get("name") or f"{curve['label']} ({'dp' if dp else 'normal'} prior)"
            ax.plot(tau[order], score[order], "-" if dp else "--", marker="o" if dp else "s", ms=3,
                    color=colour, label=name)
            values += [v for v in score if np.isfinite(v) and v != 0]
        if tau_mark is not None:
            ax.axvline(tau_mark, color="0.5", lw=0.8, ls=":", label=f"τ = {tau_mark:g} (the table's)")
        ax.axhline(0.0, color="0.5", lw=0.6)
        magnitudes = np.abs(values)
        if len(magnitudes) and magnitudes.max() > 100 * np.median(magnitudes):
            # orders of magnitude apart (a normal prior's leaks against its twin's)
            ax.set_yscale("symlog", linthresh=float(np.percentile(magnitudes, 10)))
        ax.set_xlabel("τ (threshold on the log prior density log p(z))")
        ax.set_ylabel("leakage score LS(τ) (nats)")
        ax.grid(alpha=0.3)
        ax.set_title(heading, fontsize=9)
        if curves:
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(title or "leakage score (dashed: normal prior, solid: decoupled prior)", fontsize=9)
    add_caption(fig, LEAKAGE_SIGN + ". In (a) a dp model's S_τ = log q − log p + log|det ∂g/∂z| (eq. 6 "
             "divides by N(g(z); 0, I), not by p(z)): where most q(z) samples are below τ its curve "
             "sits near the mean log-determinant, so the dp curves overlap there for that reason"
             + (", not for leaks; (b) removes it." if full else "."))
    return fig


def paired_samples_figure(rows, title="", caption=None):
    """Random and low-posterior samples side by side, one row per model (the supplementary's sample
    sheets). ``rows``: a list of (label, random samples, low-posterior samples); images [n, H, W, C]
    become grids (row-major; low-posterior samples lowest log q(z) first), 2-D vectors [n, 2] scatter
    plots on shared axes. ``caption``: the note under the sheet (default: what low-posterior samples
    are, ``low_posterior_definition``)."""
    fig, axes = plt.subplots(len(rows), 2, figsize=(9.2, 4.4 * len(rows)), constrained_layout=True,
                             squeeze=False)
    vectors = [a for _, r, lp in rows for a in (r, lp) if not is_image(a) and len(a)]
    limits = None
    if vectors:
        stacked = np.concatenate([a[:, :2] for a in vectors])
        lo, hi = np.percentile(stacked, 0.5, axis=0), np.percentile(stacked, 99.5, axis=0)
        margin = 0.1 * (hi - lo) + 1e-6
        limits = (lo - margin, hi + margin)
    for (label, random, low), row in zip(rows, axes):
        for ax, (kind, samples) in zip(row, (("random samples", random),
                                             ("low-posterior samples", low))):
            if is_image(samples):
                show_grid(ax, samples)
            else:
                ax.scatter(samples[:, 0], samples[:, 1], s=4,
                           c="tab:blue" if kind.startswith("random") else "tab:red")
                ax.set_xlim(limits[0][0], limits[1][0])
                ax.set_ylim(limits[0][1], limits[1][1])
            ax.set_title(f"{label}: {kind} (n={len(samples)})", fontsize=10)
    if title:
        fig.suptitle(title)
    add_caption(fig, low_posterior_definition() if caption is None else caption)
    return fig


# ------------------------------------------------------------------------------ notebook figures
def pockets_and_leaks_figure(data, means, log_vars, z0_of_means, low, high, identity=False,
                             title=""):
    """Where the low-posterior (x, pockets) and high-posterior (+, leaks) samples sit, in the manner
    of the paper's Fig. 3 (b, c), for 2-D latents: (a) on log q(z) in the representation space,
    (b) in the generation space z0 = g(z) among the training codes g(μ), with N(0, I) at 1-3σ,
    (c) decoded, over the training data (2-D vectors) or as two rows of images.

    data [N, ...] training examples; means, log_vars, z0_of_means [N, 2]; low, high: dicts with ``z``,
    ``z0`` [k, 2] and ``x`` [k, ...] (``explore.pockets_and_leaks``); identity: g is the identity
    (normal prior), said in panel (b)'s title.
    """
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    ax = axes[0]
    marked = np.concatenate([low["z"], high["z"]])
    lo = np.minimum(np.percentile(means, 0.5, axis=0) - 1.0, marked.min(axis=0) - 0.3)
    hi = np.maximum(np.percentile(means, 99.5, axis=0) + 1.0, marked.max(axis=0) + 0.3)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    log_q = aggregate_posterior_log_density(np.stack([gx.ravel(), gy.ravel()], 1), means,
                                            log_vars).reshape(gx.shape)
    im = ax.pcolormesh(gx, gy, np.maximum(log_q, log_q.max() - 15), shading="auto", cmap="magma")
    fig.colorbar(im, ax=ax, label="log q(z) (clipped 15 nats below its maximum)")
    styles = (("low-posterior (pockets)", low, "x", "cyan"), ("high-posterior (leaks)", high, "+", "lime"))
    for label, s, marker, colour in styles:
        ax.scatter(s["z"][:, 0], s["z"][:, 1], s=60, marker=marker, c=colour, label=label)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("(a) representation space z: q(z)")

    ax = axes[1]
    ax.scatter(z0_of_means[:, 0], z0_of_means[:, 1], s=2, c="0.6", alpha=0.5, label="g(μ) of training data")
    t = np.linspace(0, 2 * np.pi, 200)
    for r in (1, 2, 3):
        ax.plot(r * np.cos(t), r * np.sin(t), "k--", lw=0.7)
    for label, s, marker, colour in styles:
        ax.scatter(s["z0"][:, 0], s["z0"][:, 1], s=60, marker=marker,
                   c="tab:cyan" if colour == "cyan" else "tab:green", label=label)
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("(b) generation space z0 = z (normal prior: g = id)" if identity
                 else "(b) generation space z0 = g(z); N(0, I) at 1-3σ")

    ax = axes[2]
    if is_image(low["x"]):
        show_grid(ax, np.concatenate([low["x"], high["x"]]), columns=len(low["x"]))
        ax.set_title("(c) decoded: low-posterior (top), high-posterior (bottom)")
    else:
        ax.scatter(data[:, 0], data[:, 1], s=2, c="0.8", label="training data")
        for label, s, marker, colour in styles:
            ax.scatter(s["x"][:, 0], s["x"][:, 1], s=60, marker=marker,
                       c="tab:cyan" if colour == "cyan" else "tab:green", label=label)
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title("(c) data space: the samples decoded")
    if title:
        fig.suptitle(title)
    return fig
