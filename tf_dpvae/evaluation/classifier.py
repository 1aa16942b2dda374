"""A small CNN trained on a data set's own labels, whose penultimate layer gives the features of the
offline Fréchet distance (Inception-v3 weights cannot be downloaded here; see design.md).

Report a distance on these features as "Fréchet distance (classifier features)", with the classifier's
test accuracy and the hash of its weights — never as FID, which is defined on Inception-v3 pool features.

Interface: images [n, H, W, C] float in [0, 1], labels [n] integers in [0, num_classes).
Cache directory: ``weights.weights.h5`` + ``info.json`` (input shape, classes, test accuracy, sha256 of
the weights file, training settings); by default ``runs/features/<dataset>`` (``default_classifier_dir``),
where ``python -m tf_dpvae.features --dataset NAME`` writes and ``python -m tf_dpvae.evaluate`` looks
(``find_classifier``).
"""

from __future__ import annotations

import hashlib
import json
import os

import keras
import numpy as np

from tf_dpvae.errors import UserError
from tf_dpvae.evaluation.settings import FeatureSettings
from tf_dpvae.files import write_atomic

FEATURE_LAYER = "features"
WEIGHTS_FILE = "weights.weights.h5"
INFO_FILE = "info.json"
FEATURES_ROOT = os.path.join("runs", "features")


def cache_name(dataset):
    """A directory name for a data set name (``npz:/a/b.npz`` → ``npz__a_b.npz``)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset)


def default_classifier_dir(dataset, root=FEATURES_ROOT):
    """Where ``python -m tf_dpvae.features --dataset DATASET`` caches its classifier by default."""
    return os.path.join(root, cache_name(dataset))


def find_classifier(dataset, run_dir=None):
    """The default cache of ``dataset``'s classifier if one exists, else None.

    Looked for, in order: ``runs/features/<dataset>`` under the working directory (where the features
    command writes it by default), then ``<run_dir>/../features/<dataset>`` (the same place when the run
    itself sits in its default ``runs/<name>``, whatever the working directory is now).
    """
    candidates = [default_classifier_dir(dataset)]
    if run_dir is not None:
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(run_dir)), "features",
                                       cache_name(dataset)))
    for directory in candidates:
        if os.path.isfile(os.path.join(directory, INFO_FILE)):
            return directory
    return None


class ClassifierError(UserError):
    """A cached classifier is missing, does not match its recorded hash, or the data are malformed."""


def check_labelled(images, labels):
    """Validate the interface: images [n, H, W, C] in [0, 1], labels [n] integers ≥ 0."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 4:
        raise ClassifierError(f"images must be [n, H, W, C], got shape {images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ClassifierError(f"labels must be [n] integers matching {len(images)} images, got "
                              f"{labels.shape} {labels.dtype}")
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ClassifierError("images must be scaled to [0, 1]")
    if labels.size and labels.min() < 0:
        raise ClassifierError("labels must be non-negative")


def build_classifier(input_shape, num_classes):
    """Conv(32)-Conv(32)-pool-Conv(64)-Conv(64)-pool-Dense(128, 'features')-Dense(classes)."""
    inputs = keras.Input(tuple(input_shape))
    h = inputs
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.3)(h)
    features = keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER)(h)
    logits = keras.layers.Dense(num_classes, name="logits")(keras.layers.Dropout(0.3)(features))
    return keras.Model(inputs, logits, name="feature_classifier")


def train_classifier(train_images, train_labels, test_images, test_labels, epochs=3, batch_size=128,
                     seed=0, verbose=0):
    """Train on (train_images, train_labels); returns (model, test accuracy in [0, 1])."""
    check_labelled(train_images, train_labels)
    check_labelled(test_images, test_labels)
    keras.utils.set_random_seed(seed)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    model = build_classifier(train_images.shape[1:], num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train_images.astype(np.float32), train_labels, epochs=epochs, batch_size=batch_size,
              verbose=verbose, shuffle=True)
    accuracy = float(model.evaluate(test_images.astype(np.float32), test_labels, verbose=0,
                                    batch_size=512)[1])
    return model, accuracy


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_classifier(model, directory, test_accuracy, extra=None):
    """Write the weights and ``info.json`` (with the weights' sha256) into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, ".tmp-" + WEIGHTS_FILE)
    model.save_weights(tmp)
    os.replace(tmp, os.path.join(directory, WEIGHTS_FILE))
    info = {"input_shape": list(model.input_shape[1:]), "num_classes": int(model.output_shape[-1]),
            "test_accuracy": float(test_accuracy),
            "weights_sha256": file_sha256(os.path.join(directory, WEIGHTS_FILE)),
            "feature_layer": FEATURE_LAYER, **(extra or {})}
    write_atomic(os.path.join(directory, INFO_FILE), json.dumps(info, indent=2, sort_keys=True))
    return info


def load_classifier(directory):
    """(model, info) from a cache directory; raises ClassifierError if missing or the hash differs."""
    info_path = os.path.join(directory, INFO_FILE)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    if not (os.path.isfile(info_path) and os.path.isfile(weights_path)):
        raise ClassifierError(f"no trained feature classifier in {directory!r}; train one with "
                              "python -m tf_dpvae.features")
    with open(info_path) as f:
        info = json.load(f)
    if file_sha256(weights_path) != info.get("weights_sha256"):
        raise ClassifierError(f"{weights_path} does not match the sha256 recorded in {info_path}")
    model = build_classifier(info["input_shape"], info["num_classes"])
    model.load_weights(weights_path)
    return model, info


def load_labelled(dataset, data_dir="", seed=0):
    """(x_train, y_train, x_test, y_test, test split name) through ``tf_dpvae.data.load``: the same
    images, scaling and splits that ``train`` and ``evaluate`` see.

    Raises ClassifierError if the data set cannot be loaded, is not images, is streamed (too large to
    hold in memory) or has no labels.
    """
    from tf_dpvae import data as data_lib
    from tf_dpvae.config import ConfigError, DataConfig

    try:
        splits = data_lib.load(DataConfig(dataset=dataset, data_dir=data_dir or ""), seed)
    except (data_lib.DataError, ConfigError) as err:
        raise ClassifierError(str(err).splitlines()[0]) from None
    if len(splits.example_shape) != 3:
        raise ClassifierError(f"{dataset!r} is not an image data set (examples of shape "
                              f"{splits.example_shape}); the feature classifier is for images")
    if splits.streamed:
        raise ClassifierError(f"{dataset!r} is streamed (too large for memory); the feature "
                              "classifier needs in-memory splits")
    if splits.test is not None and splits.test_labels is not None:
        test, test_labels, test_name = splits.test, splits.test_labels, "test"
    else:
        test, test_labels, test_name = splits.validation, splits.validation_labels, "validation"
    if splits.train_labels is None or test_labels is None:
        raise ClassifierError(f"{dataset!r} has no class labels; the feature classifier trains on "
                              "the data set's own labels")
    return (np.asarray(splits.train), np.asarray(splits.train_labels, np.int64), np.asarray(test),
            np.asarray(test_labels, np.int64), test_name)


def train_dataset_classifier(dataset, directory, epochs=FeatureSettings.epochs,
                             batch_size=FeatureSettings.batch_size, seed=FeatureSettings.seed,
                             data_dir=FeatureSettings.data_dir, verbose=0):
    """Train the feature classifier of a labelled image data set (``load_labelled``) and cache it in
    ``directory``; returns its ``info`` (``save_classifier``). What ``python -m tf_dpvae.features
    --dataset NAME`` runs; raises ClassifierError for data it cannot use."""
    x, y, xt, yt, test_split = load_labelled(dataset, data_dir, seed)
    check_labelled(x, y)
    check_labelled(xt, yt)
    model, accuracy = train_classifier(x, y, xt, yt, epochs=epochs, batch_size=batch_size, seed=seed,
                                       verbose=verbose)
    return save_classifier(model, directory, accuracy, extra={
        "dataset": dataset, "epochs": epochs, "seed": seed, "train_examples": len(x),
        "test_examples": len(xt), "accuracy_split": test_split})


def feature_extractor(model):
    """images [n, H, W, C] → penultimate-layer features [n, 128] (NumPy, batched, inference mode)."""
    sub = keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output)

    def features(images, batch_size=512):
        return sub.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)

    return features
