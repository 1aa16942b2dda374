"""evaluation.feature_networks: what samples are compared on (the data, the project's classifier, an
Inception network), the cache of the real images' features, and the keys that cache is read by."""

import hashlib
import os

import numpy as np
import pytest

from tf_dpvae.evaluation import classifier, feature_networks
from tf_dpvae.evaluation.settings import EvalSettings, EvaluationError


def test_image_features_need_a_valid_classifier(tmp_path):
    with pytest.raises(EvaluationError, match="--classifier"):
        feature_networks.feature_function(3, None)
    with pytest.raises(EvaluationError, match="no trained feature classifier"):
        feature_networks.feature_function(3, str(tmp_path))
    features, name, info = feature_networks.feature_function(1, None)
    assert name == "frechet_distance_data" and info == {}
    np.testing.assert_array_equal(features(np.ones((2, 2))), np.ones((2, 2)))


def test_images_without_a_cached_classifier_skip_the_frechet_distance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    features, name, info = feature_networks.resolve_features((8, 8, 1), None, "fashion_mnist",
                                                             str(tmp_path / "r"))
    assert features is None and name == "frechet_distance_classifier" and info["skipped"] is True
    assert "python -m tf_dpvae.features --dataset fashion_mnist" in info["enable"]
    # an explicit directory is never silently skipped
    with pytest.raises(EvaluationError, match="no trained feature classifier"):
        feature_networks.resolve_features((8, 8, 1), str(tmp_path), "fashion_mnist")


def test_reference_features_are_computed_once_per_network_and_images(monkeypatch):
    """The real images' features (held-out set, training head) do not depend on the model: computed
    once per (network, image bytes) in a process, read-only; other images, another network or no key
    compute again."""
    monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})
    calls = []

    def features(x):
        calls.append(len(x))
        return np.asarray(x, np.float64).reshape(len(x), -1) * 2

    images = np.random.default_rng(0).random((5, 4, 4, 1)).astype(np.float32)
    first = feature_networks.reference_features(features, "sha-a", images)
    again = feature_networks.reference_features(features, "sha-a", images.copy())
    np.testing.assert_array_equal(first, features(images))
    assert again is first and not first.flags.writeable and len(calls) == 2
    changed = images.copy()
    changed[0, 0, 0, 0] += 1e-3
    feature_networks.reference_features(features, "sha-a", changed)
    feature_networks.reference_features(features, "sha-b", images)
    feature_networks.reference_features(features, None, images)
    feature_networks.reference_features(features, None, images)
    assert len(calls) == 6
    for i in range(2 * feature_networks._REFERENCE_CACHE_SIZE):
        feature_networks.reference_features(features, f"sha-{i}", images[:1])
    assert len(feature_networks._REFERENCE_FEATURES) == feature_networks._REFERENCE_CACHE_SIZE


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """An untrained classifier of 8×8 grey images, cached as the features command caches one."""
    import keras

    keras.utils.set_random_seed(0)
    directory = tmp_path_factory.mktemp("runs") / "features" / "fashion_mnist"
    classifier.save_classifier(classifier.build_classifier((8, 8, 1), 3), str(directory), 0.5,
                               extra={"dataset": "fashion_mnist"})
    return directory


def test_image_features_are_the_classifiers_penultimate_layer_on_clipped_images(classifier_dir):
    """Images go through the cached classifier's "features" layer after clipping to [0, 1] (a
    Gaussian decoder can leave that range); the record names the network by its weights' hash."""
    features, name, info = feature_networks.feature_function(3, str(classifier_dir), (8, 8, 1))
    assert name == "frechet_distance_classifier"
    model, _ = classifier.load_classifier(str(classifier_dir))
    extract = classifier.feature_extractor(model)
    x = np.random.default_rng(0).normal(0.5, 1.0, size=(6, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(features(x), extract(np.clip(x, 0.0, 1.0)), rtol=1e-6)
    assert not np.allclose(features(x), extract(x))   # the clipping is not a no-op here
    assert info == {"classifier_test_accuracy": 0.5, "classifier_accuracy_split": "test",
                    "classifier_dataset": "fashion_mnist",
                    "classifier_weights_sha256": classifier.file_sha256(
                        os.path.join(classifier_dir, classifier.WEIGHTS_FILE)),
                    "classifier_dir": os.path.abspath(classifier_dir)}


def test_a_classifier_of_another_image_shape_or_a_bad_rank_is_refused(classifier_dir, tmp_path):
    with pytest.raises(EvaluationError, match=r"takes images of shape \(8, 8, 1\), the run's data "
                                              r"are \(12, 12, 1\)"):
        feature_networks.feature_function(3, str(classifier_dir), (12, 12, 1))
    with pytest.raises(EvaluationError, match="no Fréchet-distance features for examples of rank 2"):
        feature_networks.feature_function(2, str(classifier_dir))
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in (classifier.WEIGHTS_FILE, classifier.INFO_FILE):
        (tampered / name).write_bytes((classifier_dir / name).read_bytes())
    with open(tampered / classifier.WEIGHTS_FILE, "ab") as f:
        f.write(b"x")
    # the classifier's own error, as one line of this module's error class
    with pytest.raises(EvaluationError, match="does not match the sha256") as err:
        feature_networks.feature_function(3, str(tampered))
    assert "\n" not in str(err.value)


def test_a_cached_classifier_next_to_the_run_is_found(classifier_dir, tmp_path, monkeypatch):
    """Without --classifier, images use the data set's default cache: here the one beside the run
    (``runs/features/<data set>`` next to ``runs/<run>``), from another working directory."""
    monkeypatch.chdir(tmp_path)
    run_dir = classifier_dir.parent.parent / "some-run"
    features, name, info = feature_networks.resolve_features((8, 8, 1), None, "fashion_mnist",
                                                             str(run_dir))
    assert features is not None and name == "frechet_distance_classifier"
    assert info["classifier_dir"] == os.path.abspath(classifier_dir)
    # vector data never look for a classifier
    _, name, info = feature_networks.resolve_features((2,), None, "moons", str(run_dir))
    assert name == "frechet_distance_data" and info == {}


def test_the_inception_network_is_optional_for_images_only_and_loaded_up_front(tmp_path):
    from tf_dpvae.evaluation import inception

    assert feature_networks.inception_network(EvalSettings(), (8, 8, 1), "fashion_mnist") is None
    weights = tmp_path / "w.h5"
    weights.write_text("not weights")
    settings = EvalSettings(inception_weights=str(weights))
    with pytest.raises(EvaluationError, match="--inception-weights applies to image data; 'moons' "
                                              r"has examples of shape \(2,\)"):
        feature_networks.inception_network(settings, (2,), "moons")
    with pytest.raises(inception.InceptionError, match="w.h5"):   # its own error, not re-wrapped
        feature_networks.inception_network(settings, (8, 8, 1), "fashion_mnist")


def test_digest_is_the_sha1_of_the_array_bytes_in_c_order():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert feature_networks.digest(a) == hashlib.sha1(a.tobytes(order="C")).hexdigest()
    assert feature_networks.digest(np.asfortranarray(a)) == feature_networks.digest(a)
    assert feature_networks.digest(a.T) == hashlib.sha1(a.T.copy().tobytes()).hexdigest()
    assert feature_networks.digest(a.astype(np.float64)) != feature_networks.digest(a)


def test_the_inception_key_changes_with_the_file(tmp_path):
    """The cache key of Inception features: path, size and modification time, so that a file
    replaced at the same path is not mistaken for the old one."""
    path = tmp_path / "inception.pb"
    path.write_bytes(b"1234")
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))
    key = feature_networks.inception_key(str(path))
    assert key == f"inception:{os.path.abspath(path)}:4:2000000000"
    path.write_bytes(b"12345")
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))
    assert feature_networks.inception_key(str(path)) != key


# ------------------------------------------------------------------ the disk cache of reference_features
def _counting_features():
    calls = []

    def features(x):
        calls.append(len(x))
        return np.asarray(x, np.float64).reshape(len(x), -1) * 2 + 1

    return features, calls


@pytest.fixture
def disk_cache(tmp_path, monkeypatch):
    """An empty disk cache in tmp_path and an empty memory cache (each test a fresh process)."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(feature_networks.CACHE_DIR_ENV, str(directory))
    monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})
    return directory


def _entries(directory):
    return sorted(p for p in directory.iterdir()) if directory.exists() else []


def test_a_disk_cache_hit_in_a_new_process_returns_the_identical_features(disk_cache, monkeypatch):
    """Another process (the memory cache empty) reads the entry instead of computing: same values,
    same dtype and shape, bit for bit, and read-only like a computed entry."""
    features, calls = _counting_features()
    images = np.random.default_rng(1).random((7, 4, 4, 1)).astype(np.float32)
    first = feature_networks.reference_features(features, "sha-a", images)
    assert calls == [7] and len(_entries(disk_cache)) == 1
    monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})   # a new process
    again = feature_networks.reference_features(features, "sha-a", images.copy())
    assert calls == [7]                                                  # not computed again
    assert again.dtype == first.dtype and again.shape == first.shape and not again.flags.writeable
    np.testing.assert_array_equal(again, first)
    assert again.tobytes() == features(images).tobytes()


def test_another_network_key_images_or_cache_version_misses_the_disk_cache(disk_cache, monkeypatch):
    """A changed classifier (its weights hash is the network key), other images (another split, count
    or data set: other bytes) or a new cache version are computed, never read from another entry."""
    features, calls = _counting_features()
    images = np.random.default_rng(2).random((5, 4, 4, 1)).astype(np.float32)
    feature_networks.reference_features(features, "sha-a", images)

    def fresh_process():
        monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})

    fresh_process()
    other = feature_networks.reference_features(features, "sha-b", images)
    fresh_process()
    fewer = feature_networks.reference_features(features, "sha-a", images[:4])
    fresh_process()
    changed = images.copy()
    changed[0, 0, 0, 0] += 1e-3
    moved = feature_networks.reference_features(features, "sha-a", changed)
    assert calls == [5, 5, 4, 5] and len(_entries(disk_cache)) == 4
    np.testing.assert_array_equal(fewer, features(images[:4]))
    np.testing.assert_array_equal(moved, features(changed))
    np.testing.assert_array_equal(other, features(images))
    fresh_process()
    monkeypatch.setattr(feature_networks, "DISK_CACHE_VERSION", feature_networks.DISK_CACHE_VERSION + 1)
    calls.clear()
    feature_networks.reference_features(features, "sha-a", images)
    assert calls == [5] and len(_entries(disk_cache)) == 5


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "other key", "wrong hash"])
def test_a_partial_or_corrupt_disk_entry_is_detected_and_rebuilt(disk_cache, monkeypatch, damage):
    """A damaged entry is never returned: it is computed again, and the entry rewritten whole."""
    features, calls = _counting_features()
    images = np.random.default_rng(3).random((6, 4, 4, 1)).astype(np.float32)
    expected = feature_networks.reference_features(features, "sha-a", images).copy()
    (path,) = _entries(disk_cache)
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[:len(good) // 2])
    elif damage == "flipped":   # a byte of the stored values: the zip's CRC or the SHA-256 catches it
        with np.load(path) as f:
            stored = f["value"].tobytes()
        at = good.index(stored) + 3
        path.write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:   # a readable file whose key or recorded hash is not this entry's
        with np.load(path) as f:
            key, value, sha = str(f["key"]), f["value"], str(f["sha256"])
        if damage == "other key":
            key = key.replace("sha-a", "sha-z")
        else:
            value = value + 1.0
        np.savez(path, key=np.array(key), value=value, sha256=np.array(sha))
    assert path.read_bytes() != good
    monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})
    calls.clear()
    value = feature_networks.reference_features(features, "sha-a", images)
    assert calls == [6]
    np.testing.assert_array_equal(value, expected)
    assert _entries(disk_cache) == [path] and path.read_bytes() == good   # rebuilt, and whole again


def test_disk_entries_are_written_atomically(disk_cache, monkeypatch):
    """The entry is written beside its name and renamed into place (``files.write_atomic``): a
    writer killed half-way leaves no entry under the name and no temporary file; the value is
    returned all the same. An unwritable cache is skipped, not an error."""
    features, calls = _counting_features()
    images = np.random.default_rng(4).random((3, 4, 4, 1)).astype(np.float32)
    real_replace = os.replace

    def killed(src, dst):
        raise KeyboardInterrupt   # between the temporary file's fsync and the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        feature_networks.reference_features(features, "sha-a", images)
    assert _entries(disk_cache) == []            # neither the entry nor its temporary file
    monkeypatch.setattr(os, "replace", real_replace)
    feature_networks.reference_features(features, "sha-a", images)
    (path,) = _entries(disk_cache)
    assert not path.name.startswith(".tmp-") and path.suffix == ".npz"
    # a read-only cache: computed, returned, nothing written
    monkeypatch.setattr(feature_networks, "_REFERENCE_FEATURES", {})
    monkeypatch.setenv(feature_networks.CACHE_DIR_ENV, str(disk_cache / "entry-is-a-file"))
    (disk_cache / "entry-is-a-file").write_text("not a directory")
    value = feature_networks.reference_features(features, "sha-b", images)
    np.testing.assert_array_equal(value, features(images))


def test_the_disk_cache_can_be_turned_off_and_persist_false_keeps_memory_only(disk_cache, monkeypatch,
                                                                                tmp_path):
    features, calls = _counting_features()
    images = np.random.default_rng(5).random((3, 4, 4, 1)).astype(np.float32)
    feature_networks.reference_features(features, "sha-a", images, persist=False)
    assert _entries(disk_cache) == []
    for off in ("off", ""):
        monkeypatch.setenv(feature_networks.CACHE_DIR_ENV, off)
        assert feature_networks.reference_cache_dir() is None
    feature_networks.reference_features(features, "sha-b", images)
    assert _entries(disk_cache) == [] and calls == [3, 3]
    monkeypatch.delenv(feature_networks.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert feature_networks.reference_cache_dir() == str(tmp_path / "xdg" / "tf_dpvae" /
                                                         "reference_features")
