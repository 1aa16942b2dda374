"""Inception-v3 pool features for the Fréchet distance, from a network file the user gives.

Nothing here downloads anything (the machines this runs on may be offline). Two kinds of file:

**The FID network** (metrics key ``fid``, comparable with published FIDs). FID (Heusel et al. 2017) is
defined on the 2,048-d ``pool_3`` features of one particular Inception network: the frozen TensorFlow
graph ``classify_image_graph_def.pb`` inside ``inception-2015-12-05.tgz``, which the reference
implementation (TTUR, https://github.com/bioinf-jku/TTUR, ``fid.py``) downloads from
http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz. Give either that .tgz
or the .pb extracted from it. The protocol implemented here is TTUR's:

* TTUR's ``get_activations`` feeds float images [n, H, W, 3] with values in [0, 255] ("must lie
  between 0 and 256"), at their own size, to the graph's tensor ``ExpandDims:0``
  (``FID_Inception_Net/ExpandDims:0`` after its ``import_graph_def(name='FID_Inception_Net')``) and
  reads ``pool_3:0``, [n, 1, 1, 2048], reshaped to [n, 2048]. Its images are read from PNG/JPEG
  files, so they are 8-bit.
* The graph does its own preprocessing after ``ExpandDims``: ``ResizeBilinear`` to 299×299 (a 2015
  TensorFlow op: ``align_corners=False`` and no half-pixel centres, i.e.
  ``tf.compat.v1.image.resize_bilinear(..., align_corners=False, half_pixel_centers=False)``), then
  ``Sub`` 128 and ``Mul`` 1/128 to [−1, 1). torch-fidelity's port of the same weights
  (``feature_extractor_inceptionv3.py``) reproduces exactly these steps: a TF1-compatible bilinear
  resize with ``align_corners=False`` and ``(x − 128) / 128``.

Here, images in [0, 1] (any size, 1 or 3 channels) are clipped, scaled to [0, 255] and rounded to
integers (the 8-bit values a PNG would hold), grey is tiled to 3 channels, and the result goes to
``ExpandDims:0`` unresized: the graph's own ResizeBilinear makes it 299×299, as in TTUR. Resizing
before the graph would change the numbers (TF2's ``tf.image.resize`` uses half-pixel centres).
The graph is imported with ``tf.compat.v1.wrap_function`` + ``import_graph_def``, its input mapped to
a placeholder of any batch size, and pruned to the path ``ExpandDims`` → ``pool_3`` (the graph's
``pool_3/_reshape`` and classifier, which assume one image, are never run).

pytorch-fid (https://github.com/mseitzer/pytorch-fid, ``src/pytorch_fid/inception.py``) ports the same
weights to PyTorch (``pt_inception-2015-12-05-6726825d.pth``, built by ``fid_inception_v3``); it
resizes with ``F.interpolate(..., mode='bilinear', align_corners=False)`` (half-pixel centres) and
scales [0, 1] to [−1, 1] with ``2x − 1`` before the network, so its FIDs differ slightly from TTUR's
(its README: "due to differences in the image interpolation implementation and library backends").
That .pth file is not supported here (it would need PyTorch, or a rebuild of the patched network in
Keras): give TF-FID's .pb or .tgz instead.

**Keras InceptionV3 weights** (an HDF5 file of ``keras.applications.InceptionV3``, e.g. the "notop"
file ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``): the 2,048-d global-average-pooled
features of a different Inception-v3 (other weights, other graph). A Fréchet distance on them is *not*
the FID and not comparable with published numbers, so it is reported under its own key,
``frechet_distance_keras_inception``. Images in [0, 1] are clipped, made RGB, resized bilinearly
(``tf.image.resize``) to 299×299 and scaled to [−1, 1] (Keras's Inception preprocessing).

The file kind is read from its content: HDF5 → Keras weights; a PyTorch file (or a .pth/.pt name) →
an error pointing to TF-FID's graph; a tar archive holding ``classify_image_graph_def.pb``, or a
serialized ``GraphDef`` with the nodes ``ExpandDims`` and ``pool_3`` → the FID network; anything else
is an ``InceptionError`` naming the file and what is accepted.
"""

from __future__ import annotations

import dataclasses
import os
import tarfile
import warnings
import zipfile
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

INPUT_SIZE = 299
FEATURES = 2048
GRAPH_FILE = "classify_image_graph_def.pb"   # TF-FID's frozen graph, inside the archive below
GRAPH_ARCHIVE = "inception-2015-12-05.tgz"
GRAPH_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
GRAPH_INPUT = "ExpandDims:0"                 # float [n, H, W, 3] in [0, 255], any H, W
GRAPH_OUTPUT = "pool_3:0"                    # [n, 1, 1, 2048]
FID_METRIC = "fid"
KERAS_METRIC = "frechet_distance_keras_inception"

_ACCEPTED = (f"accepted: TF-FID's frozen Inception graph {GRAPH_FILE} (or {GRAPH_ARCHIVE}, which "
             f"holds it; {GRAPH_URL}) for the FID, or keras.applications.InceptionV3 weights "
             f"(.h5 / .weights.h5, not the FID network)")
# the first bytes of a legacy (pre-zip) torch.save file: pickle protocol 2, then torch's magic number
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class InceptionError(ValueError):
    """The file is not an accepted Inception network; the message names the file."""


@dataclasses.dataclass(frozen=True)
class FIDInceptionGraph:
    """TF-FID's frozen Inception graph, imported: ``pool_3(images)`` with float32 images
    [n, H, W, 3] in [0, 255] gives [n, 1, 1, 2048] (the graph resizes and normalizes itself)."""
    path: str
    pool_3: Callable


def _not_inception(path, why):
    return InceptionError(f"--inception-weights {path!r} is not an Inception-v3 weights file "
                          f"({_ACCEPTED}): {why}")


def load_inception(weights_path: str):
    """The network in ``weights_path``: a ``FIDInceptionGraph`` (TF-FID's .pb or .tgz, the FID) or a
    ``keras.Model`` (InceptionV3 without its classifier, average-pooled: not the FID network)."""
    if not os.path.isfile(weights_path):
        raise InceptionError(f"--inception-weights {weights_path!r} is not a file")
    import h5py  # Keras's own dependency: both Keras weights formats are HDF5

    if h5py.is_hdf5(weights_path):
        return _load_keras_inception(weights_path)
    with open(weights_path, "rb") as f:
        head = f.read(len(_TORCH_LEGACY_MAGIC))
    if (head == _TORCH_LEGACY_MAGIC or weights_path.endswith((".pth", ".pt"))
            or (zipfile.is_zipfile(weights_path) and _is_torch_zip(weights_path))):
        raise InceptionError(
            f"--inception-weights {weights_path!r} looks like a PyTorch file (pytorch-fid's "
            f"pt_inception-2015-12-05-6726825d.pth?): PyTorch weights are not supported; give "
            f"TF-FID's frozen graph {GRAPH_FILE}, from {GRAPH_URL}, instead (the same network)")
    if tarfile.is_tarfile(weights_path):
        return _load_fid_graph(weights_path, _graph_bytes_from_archive(weights_path))
    with open(weights_path, "rb") as f:
        return _load_fid_graph(weights_path, f.read())


def _is_torch_zip(path):
    with zipfile.ZipFile(path) as z:
        return any(name.endswith("data.pkl") for name in z.namelist())


def _graph_bytes_from_archive(path):
    try:
        with tarfile.open(path) as archive:
            member = next((m for m in archive.getmembers()
                           if m.isfile() and os.path.basename(m.name) == GRAPH_FILE), None)
            if member is None:
                raise _not_inception(path, f"a tar archive without {GRAPH_FILE}")
            return archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise _not_inception(path, f"unreadable tar archive ({err})") from None


def _load_fid_graph(path, data: bytes) -> FIDInceptionGraph:
    from google.protobuf.message import DecodeError

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as err:
        raise _not_inception(path, f"neither HDF5, nor a tar archive, nor a TensorFlow GraphDef "
                             f"({str(err).strip()[:120] or type(err).__name__})") from None
    names = {node.name for node in graph_def.node}
    missing = [n.split(":")[0] for n in (GRAPH_INPUT, GRAPH_OUTPUT) if n.split(":")[0] not in names]
    if missing:
        what = "a TensorFlow GraphDef" if names else "not a TensorFlow GraphDef (no nodes)"
        raise _not_inception(path, f"{what} without the node(s) {', '.join(missing)} of TF-FID's "
                             f"Inception graph")
    for node in graph_def.node:
        # shapes recorded at export time pin the batch to the one image the graph was made for;
        # without them every shape is inferred from the placeholder below (any batch size)
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    graph = {}

    def imported():
        images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="fid_images")
        (pool_3,) = tf.compat.v1.import_graph_def(graph_def, input_map={GRAPH_INPUT: images},
                                                  return_elements=[GRAPH_OUTPUT],
                                                  name="FID_Inception_Net")
        graph["io"] = images, pool_3

    try:
        wrapped = tf.compat.v1.wrap_function(imported, [])
        images, pool_3 = graph["io"]
        if pool_3.shape.rank != 4 or pool_3.shape[-1] not in (None, FEATURES):
            raise ValueError(f"{GRAPH_OUTPUT} has shape {pool_3.shape}, not [n, 1, 1, {FEATURES}]")
        pruned = wrapped.prune(feeds=images, fetches=pool_3)
    except Exception as err:  # noqa: BLE001 - import, shape and op errors: one line for all
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise _not_inception(path, f"a GraphDef that does not import as TF-FID's Inception graph: "
                             f"{first}") from None
    return FIDInceptionGraph(path=path, pool_3=pruned)


def _load_keras_inception(weights_path) -> keras.Model:
    model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                           input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
    try:
        with warnings.catch_warnings():
            # Keras only warns when parts of a file do not match and keeps those layers freshly
            # initialized: for a metric that must be an error, not a warning.
            warnings.simplefilter("error")
            model.load_weights(weights_path, skip_mismatch=False)
    except Exception as err:  # noqa: BLE001 - h5py, Keras and TF raise many kinds; one line for all
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise InceptionError(f"--inception-weights {weights_path!r} is not an Inception-v3 weights "
                             f"file (.h5 / .weights.h5 of keras.applications.InceptionV3): {first}")
    return model


def metric_name(network) -> str:
    """The metrics key: ``fid`` for TF-FID's graph only, ``frechet_distance_keras_inception`` else."""
    return FID_METRIC if isinstance(network, FIDInceptionGraph) else KERAS_METRIC


def describe(network) -> str:
    """One line for metrics.json: which network, and whether the number is comparable."""
    if isinstance(network, FIDInceptionGraph):
        return (f"TF-FID Inception graph ({GRAPH_FILE} of {GRAPH_ARCHIVE}), pool_3, TTUR protocol: "
                "comparable with published FIDs")
    return ("keras.applications.InceptionV3 weights, global average pool: not the FID network, "
            "not comparable with published FIDs")


def _as_rgb(images):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InceptionError(f"Inception features need images [n, H, W, 1 or 3]; got {images.shape}")
    if images.shape[-1] == 1:  # grey → RGB before any traced function: one trace per size
        images = np.repeat(images, 3, axis=-1)
    return images


def to_fid_input(images) -> np.ndarray:
    """Images [n, H, W, 1 or 3] in [0, 1] → what TTUR feeds to ``ExpandDims:0``: float32 RGB with the
    8-bit values 0, 1, ..., 255, at the images' own size."""
    images = np.clip(_as_rgb(images).astype(np.float32), 0.0, 1.0)
    return np.round(images * 255.0).astype(np.float32)


def feature_extractor(network, batch_size: int = 50):
    """x [n, H, W, C] in [0, 1] → pool features float64 [n, 2048], for either kind of network."""
    if isinstance(network, FIDInceptionGraph):
        def extract_fid(images):
            x = to_fid_input(images)
            parts = [network.pool_3(tf.constant(x[i:i + batch_size])).numpy().reshape(
                -1, FEATURES) for i in range(0, len(x), batch_size)]
            return np.concatenate(parts).astype(np.float64)

        return extract_fid

    model = network

    @tf.function(reduce_retracing=True)
    def embed(x):
        x = tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 1.0)
        x = tf.image.resize(x, (INPUT_SIZE, INPUT_SIZE), method="bilinear")
        return model(2.0 * x - 1.0, training=False)

    def extract(images):
        images = _as_rgb(images)
        parts = [embed(images[i:i + batch_size]).numpy()
                 for i in range(0, len(images), batch_size)]
        return np.concatenate(parts).astype(np.float64)

    return extract
