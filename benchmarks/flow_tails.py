"""Where the decoupled prior sends the tails of N(0, I): prior samples z = g⁻¹(z0) against the codes.

    python benchmarks/flow_tails.py RUN_DIR [--samples 5000] [--out FILE.md] [--png FILE.png]
                                    [--checkpoint best] [--max-codes 20000] [--seed 0]

Loads a trained run (``runs.load_run``, with its data), draws z0 ~ N(0, I) statelessly
(``prior.sample``), maps it to z = g⁻¹(z0) (paper eq. 4), encodes the training set's posterior means
μ(x) (the codes) and prints markdown tables (issue 22):

1. quantiles of ‖z0‖, of ‖g⁻¹(z0)‖ and of the codes' ‖μ(x)‖; for d = 10, ‖z0‖ concentrates
   near √d ≈ 3.2, so a ‖z‖ quantile far above the codes' is a tail the flow created;
2. log|det ∂g/∂z| per step of g (each coupling block, and each learned LU map; a permutation's is 0),
   in the density direction z → z0, at the codes and at the prior samples: their sum is eq. (5)'s
   log-determinant; a block with a large negative value at the samples is one that stretches z0's
   tails (log|det ∂g⁻¹/∂z0| = −log|det ∂g/∂z|);
3. per latent dimension, max |z_i| and the 99.9th percentile over prior samples against the codes:
   which dimensions carry the tails;
4. a radius sweep: z0 = r·u for fixed random unit directions u and growing r, the median and max
   ‖g⁻¹(z0)‖ per r, and the decoded samples as a labelled PNG grid (rows: r, columns: directions;
   two-dimensional vector data are scattered over the training data instead).

Measured once on two short two-moons runs at d = 10 (400 steps each, ``python -m tf_dpvae.train
--latent-dim 10 --epochs 4`` with the defaults, and with ``--flow-coupling spline --flow-permutation
random``; then ``--samples 5000``; 2026-12-04 09:23 UTC, commit 5b29ba4, load 4.4-5.0 on 2 cores):
q99.9 of ‖g⁻¹(z0)‖ was 29.2 for affine/alternate against the codes' 12.0 (max 33.1 vs 12.4; dimensions
2 and 4 carried it, max |z_i| 30.1 and 24.7 against codes' 6.5 and 3.3), and 9.1 for spline/random
against the codes' 8.4 (max 9.6 vs 8.7). There the codes' per-dimension max |μ_i| reached 4.6 of the
box's B = 5: table 3 shows whether a run's codes fit its box. Short runs: an illustration, not a result.

The provenance line (``benchmarks/provenance.py``) heads the output. A prior without a flow (normal,
a retrofit's Gaussian mixture) gets tables 1, 3 and 4 and a note in place of table 2.
"""

from __future__ import annotations

import argparse
import os
import sys

import provenance  # noqa: E402, F401  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_dpvae import runs  # noqa: E402

QUANTILES = (0.5, 0.9, 0.99, 0.999, 1.0)
RADII = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
BATCH = 1024


def _batched(fn, x, batch=BATCH):
    """fn over the rows of x [N, ...] in batches → concatenated float64 numpy."""
    return np.concatenate([np.asarray(fn(tf.constant(x[s:s + batch], tf.float32)), np.float64)
                           for s in range(0, len(x), batch)])


def training_examples(splits, max_codes: int) -> np.ndarray:
    """Up to ``max_codes`` training examples [n, ...] (an array split, or a streamed tf.data one)."""
    train = splits.train
    if isinstance(train, tf.data.Dataset):
        return np.concatenate([np.asarray(b) for b in train.take(max_codes).batch(BATCH)])
    return np.asarray(train[:max_codes], np.float32)


def codes_of(model, x) -> np.ndarray:
    """The posterior means μ(x) [n, d] (the codes), in batches."""
    return _batched(lambda b: model.encode(b)[0], x)


def prior_draw(prior, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(z [n, d], z0 [n, d]) with z0 ~ N(0, I) from a stateless seed and z = g⁻¹(z0)."""
    z, z0 = prior.sample(samples, tf.constant([seed, 22], tf.int32))
    return np.asarray(z, np.float64), np.asarray(z0, np.float64)


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def norm_table(z0, z, codes) -> list[str]:
    """Table 1: quantiles of ‖z0‖, ‖g⁻¹(z0)‖ and the codes' ‖μ(x)‖."""
    names = [f"q{q * 100:g}" if q < 1 else "max" for q in QUANTILES]
    lines = [_row(["norm", "n", *names]), _row(["---", "---:", *["---:"] * len(names)])]
    for label, values in (("‖z0‖ (z0 ~ N(0, I))", z0), ("‖g⁻¹(z0)‖ (prior samples z)", z),
                          ("‖μ(x)‖ (training codes)", codes)):
        norms = np.linalg.norm(values, axis=1)
        lines.append(_row([label, len(norms), *(f"{np.quantile(norms, q):.3f}" for q in QUANTILES)]))
    return lines


def log_det_table(prior, z, codes) -> list[str]:
    """Table 2: log|det| of every step of g (density direction) at the codes and at the samples."""
    if not hasattr(prior, "forward_steps"):
        return [f"(prior {prior.kind!r} has no coupling blocks: no per-block log-determinant)"]
    at_codes = [(n, np.asarray(v, np.float64))
                for n, v in prior.forward_steps(tf.constant(codes, tf.float32))]
    at_samples = [np.asarray(v, np.float64)
                  for _, v in prior.forward_steps(tf.constant(z, tf.float32))]
    lines = [_row(["step of g (z → z0)", "mean at codes", "mean at samples", "min at samples",
                   "max at samples"]), _row(["---", "---:", "---:", "---:", "---:"])]
    for (name, c), s in zip(at_codes, at_samples):
        lines.append(_row([name, f"{c.mean():.3f}", f"{s.mean():.3f}", f"{s.min():.3f}",
                           f"{s.max():.3f}"]))
    total_c = sum(c for _, c in at_codes)
    total_s = sum(at_samples)
    lines.append(_row(["**sum** (eq. 5)", f"{total_c.mean():.3f}", f"{total_s.mean():.3f}",
                       f"{total_s.min():.3f}", f"{total_s.max():.3f}"]))
    return lines


def dimension_table(z, codes) -> list[str]:
    """Table 3: per latent dimension, max and 99.9th percentile of |z_i|, samples against codes."""
    lines = [_row(["dim", "max abs sample", "max abs code", "ratio", "q99.9 abs sample",
                   "q99.9 abs code"]), _row(["---:", "---:", "---:", "---:", "---:", "---:"])]
    for i in range(z.shape[1]):
        s, c = np.abs(z[:, i]), np.abs(codes[:, i])
        lines.append(_row([i, f"{s.max():.3f}", f"{c.max():.3f}", f"{s.max() / max(c.max(), 1e-12):.2f}",
                           f"{np.quantile(s, 0.999):.3f}", f"{np.quantile(c, 0.999):.3f}"]))
    return lines


def radius_sweep(model, latent_dim: int, directions: int, seed: int, radii=RADII):
    """z0 = r·u for ``directions`` unit vectors u (seeded) and each r: (z0 [R, U, d], z [R, U, d],
    decoded [R, U, ...])."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(directions, latent_dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    z0 = np.asarray(radii, np.float64)[:, None, None] * u[None]                   # [R, U, d]
    flat = tf.constant(z0.reshape(-1, latent_dim), tf.float32)
    z = np.asarray(model.prior.inverse(flat), np.float64)
    decoded = np.asarray(model.decode_mean(tf.constant(z, tf.float32)))
    shape = (len(radii), directions)
    return z0, z.reshape(*shape, latent_dim), decoded.reshape(*shape, *decoded.shape[1:])


def sweep_table(z0, z, codes, radii=RADII) -> list[str]:
    """Table 4: ‖g⁻¹(r·u)‖ over the directions u at each radius r, against the codes' max ‖μ(x)‖."""
    top = np.linalg.norm(codes, axis=1).max()
    lines = [_row(["‖z0‖ = r", "median ‖z‖", "max ‖z‖", "max ‖z‖ / max ‖μ(x)‖"]),
             _row(["---:", "---:", "---:", "---:"])]
    for i, r in enumerate(radii):
        norms = np.linalg.norm(z[i], axis=-1)
        lines.append(_row([f"{r:g}", f"{np.median(norms):.3f}", f"{norms.max():.3f}",
                           f"{norms.max() / max(top, 1e-12):.2f}"]))
    return lines


def sweep_figure(z, decoded, train, radii=RADII, title=""):
    """The radius sweep as a figure: image rows labelled by r (and the row's median ‖z‖), or, for
    two-dimensional vector data, the decoded points over the training data coloured by r."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tf_dpvae.plots import image_grid

    norms = np.median(np.linalg.norm(z, axis=-1), axis=1)
    if decoded.ndim == 5:                                          # [R, U, H, W, C]
        rows, cols = decoded.shape[:2]
        fig, axes = plt.subplots(rows, 1, figsize=(1.1 * cols, 1.25 * rows), squeeze=False,
                                 constrained_layout=True)
        for i, ax in enumerate(axes[:, 0]):
            grid = image_grid(decoded[i], columns=cols)
            ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"r = {radii[i]:g}\n‖z‖ ≈ {norms[i]:.1f}", rotation=0, ha="right",
                          va="center", fontsize=8)
    else:
        fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
        flat = decoded.reshape(len(radii), -1, decoded.shape[-1])
        if train is not None and train.ndim == 2 and train.shape[1] >= 2:
            ax.scatter(train[:, 0], train[:, 1], s=2, c="0.85", label="training data")
        colours = plt.cm.viridis(np.linspace(0, 1, len(radii)))
        for i, r in enumerate(radii):
            ax.scatter(flat[i, :, 0], flat[i, :, 1], s=10, color=colours[i],
                       label=f"r = {r:g} (‖z‖ ≈ {norms[i]:.1f})")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title or "decoded g⁻¹(r·u) at growing ‖z0‖ = r", fontsize=9)
    return fig


def report(run_dir, samples=5000, seed=0, checkpoint="best", max_codes=20000, directions=8,
           png=None, stamp="") -> str:
    """The markdown report of the run (tables 1-4), with the sweep saved to ``png`` if given."""
    run = runs.load_run(run_dir, with_data=True, checkpoint=checkpoint, log=lambda _: None)
    model, prior = run.model, run.model.prior
    train = training_examples(run.splits, max_codes)
    codes = codes_of(model, train)
    z, z0 = prior_draw(prior, samples, seed)
    sweep_z0, sweep_z, decoded = radius_sweep(model, prior.latent_dim, directions, seed)
    p = run.config.prior
    flow = (f"prior {prior.kind}, K = {p.num_blocks} blocks, coupling {p.coupling}, permutation "
            f"{p.permutation}" if prior.kind == "dp" else f"prior {prior.kind}")
    lines = [stamp, "", f"run `{run_dir}` ({run.checkpoint_kind} checkpoint, step {run.step}); "
             f"d = {prior.latent_dim}; {flow}; {samples} prior samples (seed {seed}); "
             f"{len(codes)} training codes μ(x)", "",
             "### 1. Norms: prior samples against N(0, I) and the codes", "",
             *norm_table(z0, z, codes), "",
             "### 2. log|det ∂g/∂z| per step of g", "", *log_det_table(prior, z, codes), "",
             "### 3. Which dimensions carry the tails", "", *dimension_table(z, codes), "",
             f"### 4. Radius sweep ({directions} fixed directions)", "",
             *sweep_table(sweep_z0, sweep_z, codes), ""]
    if png:
        from tf_dpvae.plots import figure_to_png

        fig = sweep_figure(sweep_z, decoded, train if train.ndim == 2 else None,
                           title=f"{os.path.basename(os.path.normpath(run_dir))}: decoded g⁻¹(r·u)")
        with open(png, "wb") as f:
            f.write(figure_to_png(fig))
        lines += [f"decoded samples of the sweep: `{png}`", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--samples", type=int, default=5000, help="prior draws z0 ~ N(0, I)")
    p.add_argument("--out", default="", help="also write the markdown to this file")
    p.add_argument("--png", default="", help="the radius sweep's grid (default: --out's name with "
                                             ".png, else flow_tails.png)")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    p.add_argument("--max-codes", type=int, default=20000, help="training examples encoded")
    p.add_argument("--directions", type=int, default=8, help="directions u of the radius sweep")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.samples < 1 or args.max_codes < 1 or args.directions < 1:
        p.error("--samples, --max-codes and --directions must be positive")
    png = args.png or (os.path.splitext(args.out)[0] + ".png" if args.out else "flow_tails.png")
    try:
        text = report(args.run_dir, args.samples, args.seed, args.checkpoint, args.max_codes,
                      args.directions, png,
                      provenance.stamp(None if argv is None else [__file__, *argv]))
    except runs.RunError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
