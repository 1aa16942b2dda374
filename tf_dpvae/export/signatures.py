"""The serving signatures of a DPVAE, built as a ``keras.export.ExportArchive``.

Signatures (input → output keys; d = latent size, S = the model's example shape, e.g. (2,) or (28, 28, 1)):

    sample, serving_default   num_samples int32 [], seed int32 [2], temperature float32 []
                              → images [n, *S], z [n, d], and z0 [n, d] for the decoupled prior
                              z0 = T·ε, ε ~ N(0, I) drawn by stateless_normal(seed); z = g⁻¹(z0);
                              images = E[x | z]. A post-hoc mixture (gmm): k ~ stateless_categorical
                              and ε ~ stateless_normal from the seed split in two, z = μ_k + T·L_k ε,
                              z0 = z (no separate generation space)
    encode                    images [B, *S] → mean [B, d], log_var [B, d], and z0 = g(mean) for dp
    decode                    z [B, d] → images [B, *S] = E[x | z]
    reconstruct               images [B, *S] → images = E[x | z = μ(x)]
    log_prob                  z [B, d] → log_prob [B] = log N(g(z); 0, I) + log|det ∂g/∂z|  (eq. 2);
                              a post-hoc gmm's mixture density

Documented ranges (``tf_dpvae.export``): temperature in [0, ``MAX_TEMPERATURE`` = 10]; images and z
within ±``MAX_ABS_INPUT`` (1e4); encode's log_var is clipped to ``LOG_VAR_RANGE`` ([-30, 30]). A request
outside them fails with InvalidArgument naming the input; and every output is checked finite in the
graph (``finite_outputs``), so a finite request gets finite values or InvalidArgument, never inf/NaN.

Every input is checked *inside the graph* before it is used, and a bad one fails the request with
InvalidArgument and a message that names the input and the bad value: its shape, and for the batch
inputs (images, z) at least one row and every value finite (``check_batch``). The input specs in the
signature are not enough: TF Serving feeds request tensors to the session without comparing them
with the signature's shapes (``predict_util.cc``), and a wrong shape would otherwise surface as an
opaque MatMul or Reshape error deep in the network. Shapes are read with ``tf.raw_ops.Shape`` rather
than ``tf.shape`` because the latter is folded to a constant at trace time when the spec's shape is
fully known, which would delete the check. For a fully static spec (``seed`` [2]) the session's graph
optimizer may still trust the spec and fold the check; the stateless RNG op then refuses the seed
itself with InvalidArgument "seed must have shape [2], not [3]" (the tests accept either message).

Why ``ExportArchive`` and not a ``tf.Module`` holding the model: a ``tf.Module`` that holds Keras 3
layers reloads in Python but fails in TF Serving's C++ loader ("Could not find variable …") when a
signature runs (``shared/design.md``). The archive tracks the variables the endpoints use.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_dpvae.export import (DEFAULT_MAX_SAMPLES, LOG_VAR_RANGE, MAX_ABS_INPUT, MAX_TEMPERATURE,
                             max_samples_problem)

SIGNATURE_NAMES = ("serving_default", "sample", "encode", "decode", "reconstruct", "log_prob")


def _shape_text(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def check_shape(x, expected, name: str):
    """An Assert op: the runtime shape of ``x`` equals ``expected`` (None = any size) in rank and in
    every fixed dimension. Returns the op, to be used as a control dependency."""
    shape = tf.raw_ops.Shape(input=x)                        # runtime shape, never constant-folded
    rank = len(expected)
    ok = tf.equal(tf.raw_ops.Size(input=shape), rank)
    fixed = [i for i, d in enumerate(expected) if d is not None]
    if fixed:
        # Pad (or cut) to the expected rank so the comparison is well defined whatever was fed.
        padded = tf.concat([shape, tf.fill([rank], -1)], axis=0)[:rank]           # [rank]
        same = tf.equal(tf.gather(padded, fixed), tf.constant([expected[i] for i in fixed]))
        ok = tf.logical_and(ok, tf.reduce_all(same))
    return tf.debugging.Assert(ok, [f"{name} must have shape {_shape_text(expected)}; got shape",
                                    shape], summarize=8, name=f"check_{name}_shape")


def check_batch(x, expected, name: str, limit: float = MAX_ABS_INPUT) -> list:
    """The checks of a batch input ``x`` (``expected`` its shape, None first): its shape
    (``check_shape``), then, with the shape known good, at least one row, every value finite, and
    every value within [-limit, limit].

    A 0-row batch would otherwise fail deep in a conv network with a message about some layer's
    shape, and NaN or inf would pass straight through to plausible-looking answers (a dense layer
    turns one NaN into a row of NaNs; a ReLU turns it into 0)."""
    shape_ok = check_shape(x, expected, name)
    with tf.control_dependencies([shape_ok]):
        rows = tf.raw_ops.Shape(input=x)[0]
        non_finite = tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(x)), tf.int64))
        return [shape_ok,
                tf.debugging.Assert(rows >= 1, [f"{name} must hold at least one row; got shape",
                                                tf.raw_ops.Shape(input=x)], summarize=8,
                                    name=f"check_{name}_rows"),
                tf.debugging.Assert(tf.equal(non_finite, 0),
                                    [f"{name} must be finite (no NaN or inf); non-finite values:",
                                     non_finite], name=f"check_{name}_finite"),
                check_range(x, limit, name)]


def check_range(x, limit: float, name: str):
    """An Assert op: every finite value of ``x`` lies within [-limit, limit] (the largest magnitude
    is in the message). Non-finite values are the finiteness check's to report."""
    magnitude = tf.abs(tf.where(tf.math.is_finite(x), x, tf.zeros_like(x)))
    largest = tf.reduce_max(tf.concat([tf.reshape(magnitude, [-1]), [0.0]], 0))
    return tf.debugging.Assert(largest <= limit, [
        f"{name} must lie within [-{limit:g}, {limit:g}] (the documented serving range); largest "
        f"magnitude:", largest], name=f"check_{name}_range")


def finite_outputs(outputs: dict) -> dict:
    """``outputs`` behind a check that every value is finite: a request whose answer overflows fails
    with InvalidArgument naming the output, never returns inf or NaN."""
    checks = [tf.debugging.Assert(
        tf.reduce_all(tf.math.is_finite(value)),
        [f"the {key} of this request is not finite (float32 overflow): the input is too far from "
         f"the training data; non-finite values:",
         tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(value)), tf.int64))],
        name=f"check_{key}_output_finite") for key, value in outputs.items()]
    with tf.control_dependencies(checks):
        return {key: tf.identity(value) for key, value in outputs.items()}


def _checked(checks, *tensors):
    """``tensors`` behind the checks: nothing downstream runs before every check has passed (so the
    check's message, not some later op's, is what a bad request sees)."""
    with tf.control_dependencies(checks):
        out = tuple(tf.identity(t) for t in tensors)
    return out if len(out) > 1 else out[0]


def _sample_endpoint(model, max_samples: int, has_z0: bool):
    """The ``sample`` signature's function: num_samples [] int32, seed [2] int32, temperature []
    float32 → images, z (and z0 for the decoupled prior), each input checked before anything runs."""

    def sample(num_samples, seed, temperature):
        checks = [check_shape(num_samples, (), "num_samples"), check_shape(seed, (2,), "seed"),
                  check_shape(temperature, (), "temperature")]
        with tf.control_dependencies(checks):  # the value checks assume the shapes are right
            n = tf.reshape(num_samples, [])
            t = tf.reshape(temperature, [])
            checks.append(tf.debugging.Assert(
                tf.logical_and(n >= 1, n <= max_samples),
                [f"num_samples must be an integer in [1, {max_samples}] (the limit chosen at "
                 f"export); got", n], name="check_num_samples"))
            checks.append(tf.debugging.Assert(
                tf.logical_and(tf.math.is_finite(t),
                               tf.logical_and(t >= 0.0, t <= MAX_TEMPERATURE)),
                [f"temperature must be a finite number >= 0 and <= {MAX_TEMPERATURE:g}; got", t],
                name="check_temperature"))
        n, seed, t = _checked(checks, n, seed, t)
        drawn = model.sample(n, seed, t)
        out = {"images": drawn["images"], "z": drawn["z"]}
        if has_z0:
            out["z0"] = drawn["z0"]
        return finite_outputs(out)

    return sample


def build_archive(model, max_samples: int = DEFAULT_MAX_SAMPLES) -> keras.export.ExportArchive:
    """An ``ExportArchive`` with every signature of the module docstring, ``sample`` first (so it is
    also ``serving_default``).

    Args:
      model: a built ``DPVAE`` (its example shape is read from ``model.get_build_config()``).
      max_samples: Python ``int`` ≥ 1, the largest ``num_samples`` a request may ask for (it bounds
        the memory a request can take: max_samples · prod(S) floats).

    Raises:
      ValueError: ``max_samples`` is not a positive integer, or the model has not been built.
    """
    problem = max_samples_problem(max_samples)
    if problem:
        raise ValueError(problem)
    if not model.built:
        raise ValueError("the model must be built (called once) before it is exported")
    example_shape = tuple(model.get_build_config()["input_shape"][1:])
    latent_dim = int(model.prior.latent_dim)
    has_z0 = not model.prior.is_identity
    images_shape = (None, *example_shape)
    z_shape = (None, latent_dim)

    sample = _sample_endpoint(model, max_samples, has_z0)

    def encode(images):
        images = _checked(check_batch(images, images_shape, "images"), images)
        mean, log_var = model.encode(images)
        out = {"mean": mean, "log_var": tf.clip_by_value(log_var, *LOG_VAR_RANGE)}
        if has_z0:
            out["z0"] = model.prior.forward(mean)[0]
        return finite_outputs(out)

    def decode(z):
        z = _checked(check_batch(z, z_shape, "z"), z)
        return finite_outputs({"images": model.decode_mean(z)})

    def reconstruct(images):
        images = _checked(check_batch(images, images_shape, "images"), images)
        return finite_outputs({"images": model(images)})

    def log_prob(z):
        z = _checked(check_batch(z, z_shape, "z"), z)
        return finite_outputs({"log_prob": model.prior.log_prob(z)})

    # No ``archive.track(model)``: the archive saves the variables its endpoints read (the TF variables
    # behind the Keras ones, ``_all_variables``), which is all a server needs. Tracking the model would
    # save every weight a second time as a Keras variable, and a FactorVAE's discriminator (millions of
    # weights no signature uses) with it.
    archive = keras.export.ExportArchive()
    images_spec = tf.TensorSpec(images_shape, tf.float32, name="images")
    z_spec = tf.TensorSpec(z_shape, tf.float32, name="z")
    archive.add_endpoint("sample", sample, input_signature=[
        tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([2], tf.int32, name="seed"),
        tf.TensorSpec([], tf.float32, name="temperature")])
    archive.add_endpoint("encode", encode, input_signature=[images_spec])
    archive.add_endpoint("decode", decode, input_signature=[z_spec])
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[images_spec])
    archive.add_endpoint("log_prob", log_prob, input_signature=[z_spec])
    return archive
