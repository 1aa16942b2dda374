"""The feature networks of the sample metrics: what a Fréchet distance (and precision, recall,
density, coverage) compares samples on.

    feature_function(example_ndim, classifier_dir, example_shape)   vector data: themselves; images:
                              the penultimate layer of the project's classifier (``features`` command)
    resolve_features(...)     the same, finding the classifier's default cache, or a "skipped" record
    inception_network(...)    ``--inception-weights``: TF-FID's graph or Keras's InceptionV3
    reference_features(...)   the real images' features, computed once per network and image set,
                              in memory and on disk (``reference_cache_dir``): what does not depend
                              on the model evaluated is computed once per machine

Used by ``evaluation.run`` (``evaluate``) and the tuner's LP-FD objective (``tuning.lp_fd``).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib

import numpy as np

from tf_dpvae.evaluation.settings import EvalSettings, EvaluationError
from tf_dpvae.files import write_atomic

# Features of the real images (the held-out set and the training head) depend on the feature network
# and the images only, not on the model evaluated: ``reproduce table1`` evaluates every model in one
# process on the same ones, and they are about half of the Fréchet stage's network passes. Kept per
# (network, images) key, the last _REFERENCE_CACHE_SIZE of them (a few MB each; one evaluation of
# images uses 10 keys: 2 for the Fréchet distance, 3 per embedding of the sample metrics).
_REFERENCE_FEATURES: dict = {}
_REFERENCE_CACHE_SIZE = 16

# ... and on disk, so that the next evaluation on this machine (another process) reads them instead of
# computing them again: the classifier's features of the held-out set and of the training head, and
# the k-NN radii and "train vs held-out" sample metrics of each embedding, about 40% of an evaluation
# at Table 1's sizes (benchmarks/evaluation_speed.py). An entry's file name is the SHA-256 of its key
# (``_disk_key``); the file holds the key itself and the SHA-256 of the value's bytes, checked on
# every read, and is written atomically (``files.write_atomic``): a stale, partial or corrupt entry is
# never used, it is computed again and replaced.
CACHE_DIR_ENV = "TF_DPVAE_CACHE_DIR"   # a directory; "off" (or empty): no disk cache
# Part of every disk key: raise it whenever a feature function, the k-NN radii or the sample metrics
# change what they compute for the same network key, so that entries of the old definition miss.
DISK_CACHE_VERSION = 1


def reference_cache_dir() -> str | None:
    """The disk cache of ``reference_features``: ``$TF_DPVAE_CACHE_DIR`` if set ("off" or empty: None,
    no disk cache), else ``$XDG_CACHE_HOME/tf_dpvae/reference_features`` (default ``~/.cache``)."""
    value = os.environ.get(CACHE_DIR_ENV)
    if value is not None:
        return None if value.strip() in ("", "off") else value
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "tf_dpvae", "reference_features")


def _disk_key(key: tuple) -> str:
    """The text a disk entry is looked up and checked by: the in-memory key (network key, shape,
    dtype, SHA-1 of the images), the cache version, and the TensorFlow and NumPy versions (another
    version may round the same computation differently: its values are not today's)."""
    import tensorflow as tf

    return repr((DISK_CACHE_VERSION, tf.__version__, np.__version__) + tuple(key))


def _disk_path(directory: str, text_key: str) -> str:
    return os.path.join(directory, hashlib.sha256(text_key.encode()).hexdigest() + ".npz")


def _read_disk(path: str, text_key: str):
    """The cached value, or None when the file is missing, unreadable, truncated, of another key, or
    its bytes do not match the SHA-256 recorded with them."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["key"]) != text_key:
                return None
            value, recorded = f["value"], str(f["sha256"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None   # a partial or damaged file: computed again and overwritten
    return value if digest(value, "sha256") == recorded else None


def _write_disk(path: str, text_key: str, value: np.ndarray) -> None:
    """Write an entry atomically; a cache that cannot be written (read-only, full) is skipped."""
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(text_key), value=value, sha256=np.array(digest(value, "sha256")))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except OSError:
        pass


def reference_features(features, network_key, images, persist: bool = True):
    """``features(images)``, computed once per (network_key, image bytes); read-only.

    network_key: a string that changes whenever the network's weights do (the classifier's weights
    hash, the Inception file's path, size and modification time); None: no caching. Looked up in this
    process's memory, then (``persist``) in the disk cache (``reference_cache_dir``), else computed
    and stored in both. ``persist=False`` for features cheaper to compute than to keep on disk (the
    untrained embeddings of the held-out images, tens of MB)."""
    if network_key is None:
        return features(images)
    images = np.ascontiguousarray(images)
    key = (network_key, *array_key(images))
    if key not in _REFERENCE_FEATURES:
        directory = reference_cache_dir() if persist else None
        path = value = None
        if directory is not None:
            text_key = _disk_key(key)
            path = _disk_path(directory, text_key)
            value = _read_disk(path, text_key)
        if value is None:
            value = np.asarray(features(images))
            if path is not None:
                _write_disk(path, text_key, value)
        value.setflags(write=False)
        while len(_REFERENCE_FEATURES) >= _REFERENCE_CACHE_SIZE:
            _REFERENCE_FEATURES.pop(next(iter(_REFERENCE_FEATURES)))
        _REFERENCE_FEATURES[key] = value
    return _REFERENCE_FEATURES[key]


def digest(array, algorithm: str = "sha1") -> str:
    """The hex digest (``hashlib`` ``algorithm``) of an array's bytes (C order)."""
    return hashlib.new(algorithm, np.ascontiguousarray(array).reshape(-1).view(np.uint8)).hexdigest()


def array_key(array) -> tuple:
    """(shape, dtype, SHA-1 of the bytes): equal exactly for equal arrays; what the feature caches
    are keyed by (``reference_features``, ``evaluation.run.remember``)."""
    array = np.ascontiguousarray(array)
    return array.shape, array.dtype.str, digest(array)


def inception_key(path):
    stat = os.stat(path)
    return f"inception:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"


def feature_function(example_ndim, classifier_dir, example_shape=None):
    """(features(x) -> [n, f], name, info) for the Fréchet distance.

    Vector data are their own features ("frechet_distance_data"). Images ([H, W, C], clipped to
    [0, 1] as decoders with a Gaussian likelihood can leave that range) go through the penultimate
    layer of the project's classifier ("frechet_distance_classifier", never "FID": FID is defined on
    Inception-v3 pool features), whose test accuracy and weights hash are reported with it.
    """
    if example_ndim == 1:
        return (lambda x: np.asarray(x, np.float64)), "frechet_distance_data", {}
    if example_ndim != 3:
        raise EvaluationError(f"no Fréchet-distance features for examples of rank {example_ndim}")
    if classifier_dir is None:
        raise EvaluationError("image data need --classifier DIR, a feature classifier trained with "
                              "python -m tf_dpvae.features")
    from tf_dpvae.evaluation import classifier

    try:
        model, info = classifier.load_classifier(classifier_dir)
    except (classifier.ClassifierError, OSError, ValueError) as err:
        raise EvaluationError(str(err).splitlines()[0]) from None
    if example_shape is not None and tuple(info["input_shape"]) != tuple(example_shape):
        raise EvaluationError(f"the feature classifier in {classifier_dir!r} takes images of shape "
                              f"{tuple(info['input_shape'])}, the run's data are {tuple(example_shape)}")
    extract = classifier.feature_extractor(model)
    return ((lambda x: extract(np.clip(x, 0.0, 1.0))), "frechet_distance_classifier",
            {"classifier_test_accuracy": info["test_accuracy"],
             "classifier_accuracy_split": info.get("accuracy_split", "test"),
             "classifier_dataset": info.get("dataset"),
             "classifier_weights_sha256": info["weights_sha256"],
             "classifier_dir": os.path.abspath(classifier_dir)})


def resolve_features(example_shape, classifier_dir, dataset, run_dir=None):
    """Like ``feature_function``, but for images without ``classifier_dir`` it looks for the default
    cache of ``dataset`` (``classifier.find_classifier``); if there is none it returns
    (None, "frechet_distance_classifier", {"skipped": True, "reason": ..., "enable": ...}) so that the
    image Fréchet distances are skipped, and says how to enable them, instead of failing the run.
    """
    if len(example_shape) == 3 and classifier_dir is None:
        from tf_dpvae.evaluation import classifier

        classifier_dir = classifier.find_classifier(dataset, run_dir)
        if classifier_dir is None:
            default = classifier.default_classifier_dir(dataset)
            return None, "frechet_distance_classifier", {
                "skipped": True,
                "reason": f"no feature classifier for {dataset!r} in {os.path.abspath(default)!r} "
                          "(or next to the run)",
                "enable": f"python -m tf_dpvae.features --dataset {dataset} (caches it in {default}), "
                          "then rerun evaluate; or pass --classifier DIR"}
    return feature_function(len(example_shape), classifier_dir, example_shape)


def inception_network(settings: EvalSettings, example_shape, data_name):
    """(features, metric key, network description) of ``--inception-weights``, or None; loaded before
    the long computations, so that a bad file fails fast."""
    if settings.inception_weights is None:
        return None
    if len(example_shape) != 3:
        raise EvaluationError(f"--inception-weights applies to image data; {data_name!r} has "
                              f"examples of shape {example_shape}")
    from tf_dpvae.evaluation import inception

    network = inception.load_inception(settings.inception_weights)   # or its own InceptionError
    # "fid" only for TF-FID's Inception graph; Keras's InceptionV3 weights get their own key
    return (inception.feature_extractor(network), inception.metric_name(network),
            inception.describe(network))
