"""The feature networks of the sample metrics: what a Fréchet distance (and precision, recall,
density, coverage) compares samples on.

    feature_function(example_ndim, classifier_dir, example_shape)   vector data: themselves; images:
                              the penultimate layer of the project's classifier (``features`` command)
    resolve_features(...)     the same, finding the classifier's default cache, or a "skipped" record
    inception_network(...)    ``--inception-weights``: TF-FID's graph or Keras's InceptionV3
    reference_features(...)   the real images' features, computed once per network and image set

Used by ``evaluation.run`` (``evaluate``) and the tuner's LP-FD objective (``tuning.lp_fd``).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from tf_dpvae.evaluation.settings import EvalSettings, EvaluationError

# Features of the real images (the held-out set and the training head) depend on the feature network
# and the images only, not on the model evaluated: ``reproduce table1`` evaluates every model in one
# process on the same ones, and they are about half of the Fréchet stage's network passes. Kept per
# (network, images) key, the last _REFERENCE_CACHE_SIZE of them (a few MB each).
_REFERENCE_FEATURES: dict = {}
_REFERENCE_CACHE_SIZE = 8


def reference_features(features, network_key, images):
    """``features(images)``, computed once per (network_key, image bytes) in this process; read-only.

    network_key: a string that changes whenever the network's weights do (the classifier's weights
    hash, the Inception file's path, size and modification time); None: no caching."""
    if network_key is None:
        return features(images)
    images = np.ascontiguousarray(images)
    key = (network_key, images.shape, images.dtype.str, digest(images))
    if key not in _REFERENCE_FEATURES:
        value = np.asarray(features(images))
        value.setflags(write=False)
        while len(_REFERENCE_FEATURES) >= _REFERENCE_CACHE_SIZE:
            _REFERENCE_FEATURES.pop(next(iter(_REFERENCE_FEATURES)))
        _REFERENCE_FEATURES[key] = value
    return _REFERENCE_FEATURES[key]


def digest(array) -> str:
    """SHA-1 of an array's bytes (C order)."""
    return hashlib.sha1(np.ascontiguousarray(array).reshape(-1).view(np.uint8)).hexdigest()


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
