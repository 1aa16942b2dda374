"""Where a FactorVAE training step's time goes (issue 6: the step that misses 2× the authors' speed).

Times, on the authors' factor_mnist networks at batch 24 with oneDNN, the full ``train_step`` and its
parts compiled separately: the VAE update (encoder, decoder, D(z) forward/backward), the discriminator
update (encoding the second batch, D on two batches), and the encoder+decoder forward/backward alone.
Median of 5 interleaved rounds of 10 calls each.

    .venv/bin/python benchmarks/factor_breakdown.py
"""

import os
import statistics
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")   # before TensorFlow loads
import provenance  # noqa: E402  (first: this checkout on sys.path, quiet TF, the commit)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_dpvae.config import RunConfig  # noqa: E402
from tf_dpvae.model import build_model  # noqa: E402


def build():
    """The authors' FactorVAE on factor_mnist at batch 24, with two random batches (x, x')."""
    cfg = RunConfig().replace(
        model={"arch": "factor_mnist", "latent_dim": 2},
        prior={"kind": "normal"},
        objective={"reg": "factor", "disc_units": 1000, "disc_layers": 5},  # the authors' discriminator
        train={"batch_size": 24},
    )
    m = build_model(cfg, (None, 28, 28, 1))
    m.build_optimizers()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(24, 28, 28, 1)).astype("float32"))
    x2 = tf.constant(rng.uniform(size=(24, 28, 28, 1)).astype("float32"))
    return m, x, x2


def parts(m, x, x2) -> dict:
    """name → a call of the compiled full step or one of its parts."""
    full = tf.function(m.train_step)

    @tf.function
    def vae_only(x):
        with tf.GradientTape() as t:
            loss, terms, z = m.compute_terms(x)
        g = t.gradient(loss, m.vae_variables)
        m.optimizer.apply_gradients(zip(g, m.vae_variables))
        return loss

    @tf.function
    def disc_only(x, x2):
        mean, lv = m.encode(x)
        z = tf.stop_gradient(m.reparameterize(mean, lv))
        with tf.GradientTape() as t:
            dl, acc = m._discriminator_terms(z, x2, m.seed_generator)
        v = m.discriminator.trainable_variables
        m.discriminator_optimizer.apply_gradients(zip(t.gradient(dl, v), v))
        return dl

    @tf.function
    def enc_dec_only(x):
        with tf.GradientTape() as t:
            mean, lv = m.encode(x)
            out = m.decode(mean)
            loss = tf.reduce_mean(tf.square(out - x))
        v = m.encoder.trainable_variables + m.decoder.trainable_variables
        m.optimizer.apply_gradients(zip(t.gradient(loss, v), v))
        return loss

    return {
        "full train_step": lambda: full((x, x2)),
        "VAE part (incl. D(z) fwd/bwd)": lambda: vae_only(x),
        "D update (encode x', D fwd/bwd ×2)": lambda: disc_only(x, x2),
        "encoder+decoder only": lambda: enc_dec_only(x),
    }


def main() -> int:
    m, x, x2 = build()
    fns = parts(m, x, x2)
    for f in fns.values():
        for _ in range(5):
            f()
    res = {k: [] for k in fns}
    for _ in range(5):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(10):
                f()
            res[k].append((time.perf_counter() - t) / 10 * 1000)
    print("| part | median ms per call |\n|---|---:|")
    for k, v in res.items():
        print(f"| {k} | {statistics.median(v):.1f} |")
    print(
        "params: encoder+decoder",
        sum(int(np.prod(v.shape)) for v in m.encoder.trainable_variables + m.decoder.trainable_variables),
        "discriminator",
        sum(int(np.prod(v.shape)) for v in m.discriminator.trainable_variables),
    )
    print(f"\n{provenance.stamp()} (at the end).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
