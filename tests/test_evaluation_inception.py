"""The Inception feature paths, with network files written here (the real ones cannot be downloaded).

TF-FID's graph is stood in for by a small frozen GraphDef with the real one's tensor names and layout:
DecodeJpeg/contents → DecodeJpeg → Cast → ExpandDims → ResizeBilinear (299, a TF1 op: no half-pixel
centres) → Sub 128 → Mul 1/128 → ... → pool_3 [n, 1, 1, 2048] → pool_3/_reshape [1, 2048] → softmax,
exported with its shapes (batch 1 everywhere, as the real graph was made for one JPEG).
"""

import io
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae.evaluation import frechet, inception


def _frozen_graph(head, with_pool_3=True):
    """Serialized GraphDef: the real graph's input chain, then ``head(resized)`` as pool_3."""
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        x = tf.raw_ops.DecodeJpeg(contents=contents, channels=3, name="DecodeJpeg")
        x = tf.raw_ops.Cast(x=x, DstT=tf.float32, name="Cast")
        x = tf.raw_ops.ExpandDims(input=x, axis=tf.constant(0, name="ExpandDims/dim"),
                                  name="ExpandDims")
        size = tf.constant([299, 299], name="ResizeBilinear/size")
        x = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=False, name="ResizeBilinear")
        x = head(x)
        if with_pool_3:
            x = tf.raw_ops.Identity(input=x, name="pool_3")
        if with_pool_3 and x.shape[-1] == 2048:  # the classifier, made for one image
            x = tf.raw_ops.Reshape(tensor=x, shape=tf.constant([1, 2048], name="pool_3/_reshape/shape"),
                                   name="pool_3/_reshape")
            tf.raw_ops.Softmax(logits=x, name="softmax")
    graph_def = graph.as_graph_def(add_shapes=True)
    for node in graph_def.node:
        if node.op == "ResizeBilinear":  # a 2015 graph has no such attribute (default: False)
            del node.attr["half_pixel_centers"]
    return graph_def.SerializeToString()


def _small_inception(weights):
    """(x − 128)/128, 23×23 average pool, a 6×6 conv to 2,048 channels, tanh, 8×8 average pool."""
    def head(x):
        x = (x - 128.0) * (1.0 / 128.0)
        x = tf.nn.avg_pool2d(x, 23, 23, "VALID")                 # 299 → 13
        x = tf.nn.conv2d(x, tf.constant(weights), 1, "VALID")    # 13 → 8
        return tf.nn.avg_pool2d(tf.tanh(x), 8, 8, "VALID")        # → [n, 1, 1, 2048]
    return head


def _resize_probe():
    """pool_3 = 2,048 fixed entries of the graph's 299×299×3 ResizeBilinear output (the first, the
    last, the rest spread over the image), to read the resize the loader leads to."""
    def head(x):
        flat = tf.reshape(x, [-1, 299 * 299 * 3])
        return tf.reshape(tf.gather(flat, tf.constant(PROBE_INDEX), axis=1), [-1, 1, 1, 2048])
    return head


_LAST = 299 * 299 * 3 - 1  # the probe reads the first pixel (indices 0-2), the last value, and more
PROBE_INDEX = np.unique(np.r_[0, 1, 2, np.random.default_rng(1).choice(_LAST, 3000, replace=False)])
PROBE_INDEX = np.r_[PROBE_INDEX[:2047], _LAST].astype(np.int32)


@pytest.fixture(scope="module")
def fid_graph(tmp_path_factory):
    weights = np.random.default_rng(0).normal(0.0, 0.3, (6, 6, 3, 2048)).astype(np.float32)
    folder = tmp_path_factory.mktemp("fid")
    pb = folder / inception.GRAPH_FILE
    pb.write_bytes(_frozen_graph(_small_inception(weights)))
    tgz = folder / inception.GRAPH_ARCHIVE  # the real archive: the .pb and label files at its root
    with tarfile.open(tgz, "w:gz") as archive:
        labels = b"n01440764\ttench\n"
        info = tarfile.TarInfo("imagenet_synset_to_human_label_map.txt")
        info.size = len(labels)
        archive.addfile(info, io.BytesIO(labels))
        archive.add(pb, arcname=inception.GRAPH_FILE)
    return str(pb), str(tgz), weights


def _direct(images01, weights):
    """The same computation without the loader: TTUR's input, then the graph's ops by hand."""
    x = np.round(np.clip(images01, 0, 1) * 255).astype(np.float32)
    x = np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x
    x = tf.compat.v1.image.resize_bilinear(x, (299, 299), align_corners=False, half_pixel_centers=False)
    return _small_inception(weights)(x).numpy().reshape(len(x), 2048).astype(np.float64)


def test_fid_graph_features_are_ttur_pool_3_for_any_batch(fid_graph):
    pb, tgz, weights = fid_graph
    network = inception.load_inception(pb)
    assert isinstance(network, inception.FIDInceptionGraph)
    assert inception.metric_name(network) == "fid" and "comparable" in inception.describe(network)
    extract = inception.feature_extractor(network, batch_size=3)
    rng = np.random.default_rng(0)
    gray = rng.uniform(-0.1, 1.1, size=(5, 12, 10, 1)).astype(np.float32)  # out of [0, 1]: clipped
    features = extract(gray)
    assert features.shape == (5, inception.FEATURES) and features.dtype == np.float64
    assert np.all(np.isfinite(features)) and features.std() > 0
    np.testing.assert_allclose(features, _direct(gray, weights), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extract(np.repeat(gray, 3, axis=-1)), features, rtol=0, atol=0)
    np.testing.assert_allclose(extract(gray[::-1])[::-1], features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inception.feature_extractor(network, batch_size=1)(gray), features,
                               rtol=1e-5, atol=1e-6)
    # the values are 8-bit, as read from PNG files: a change under half a level changes nothing
    levels = np.round(np.clip(gray, 0, 1) * 255) / 255
    assert np.array_equal(extract(levels + 0.4 / 255), extract(levels - 0.4 / 255))
    rgb = rng.uniform(size=(3, 9, 9, 3)).astype(np.float32)
    from_tgz = inception.feature_extractor(inception.load_inception(tgz))(rgb)
    np.testing.assert_allclose(from_tgz, _direct(rgb, weights), rtol=1e-5, atol=1e-6)
    with pytest.raises(inception.InceptionError, match=r"images \[n, H, W, 1 or 3\]"):
        extract(gray[..., 0])


def test_fid_graph_gets_the_images_unresized_and_resizes_them_bilinearly_to_299(tmp_path):
    path = tmp_path / "probe.pb"
    path.write_bytes(_frozen_graph(_resize_probe()))
    extract = inception.feature_extractor(inception.load_inception(str(path)))
    h, w = 7, 5  # a known, non-square input: a vertical ramp, a horizontal ramp, their product
    ramp = np.stack(np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij"), -1)
    image = np.concatenate([ramp, ramp[..., :1] * ramp[..., 1:]], -1)[None].astype(np.float32)
    got = extract(image)[0]
    pixels = np.round(image * 255).astype(np.float32)
    tf1 = tf.compat.v1.image.resize_bilinear(pixels, (299, 299), align_corners=False,
                                             half_pixel_centers=False).numpy().reshape(-1)
    np.testing.assert_allclose(got, tf1[PROBE_INDEX], rtol=1e-6, atol=1e-3)
    # the same as tf.image.resize's bilinear where both sample a source pixel centre (the first
    # output pixel), elsewhere not: TF2 uses half-pixel centres, the 2015 graph does not, so a loader
    # that resized before the graph would change the numbers
    tf2 = tf.image.resize(pixels, (299, 299), method="bilinear").numpy().reshape(-1)
    np.testing.assert_allclose(got[:3], tf2[:3], atol=1e-3)
    assert np.abs(got - tf2[PROBE_INDEX]).max() > 1.0
    assert tf1.min() >= 0 and tf1.max() <= 255  # [0, 255]: the graph's own Sub/Mul come after


def test_fid_graph_files_of_the_wrong_kind_are_clear_errors(tmp_path):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(inception.InceptionError, match=r"noise\.bin.*classify_image_graph_def\.pb"):
        inception.load_inception(str(noise))
    no_pool = tmp_path / "no_pool.pb"
    no_pool.write_bytes(_frozen_graph(tf.tanh, with_pool_3=False))
    with pytest.raises(inception.InceptionError,
                       match=r"no_pool\.pb.*GraphDef without the node\(s\) pool_3"):
        inception.load_inception(str(no_pool))
    narrow = tmp_path / "narrow.pb"
    narrow.write_bytes(_frozen_graph(lambda x: tf.reduce_mean(x, [1, 2], keepdims=True)))
    with pytest.raises(inception.InceptionError, match=r"narrow\.pb.*pool_3:0 has shape"):
        inception.load_inception(str(narrow))
    archive = tmp_path / "other.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(noise, arcname="noise.bin")
    with pytest.raises(inception.InceptionError, match=r"other\.tgz.*without classify_image_graph_def"):
        inception.load_inception(str(archive))
    torch_file = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch_file.write_bytes(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
    with pytest.raises(inception.InceptionError,
                       match=r"pt_inception.*PyTorch weights are not supported.*classify_image"):
        inception.load_inception(str(torch_file))


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                           input_shape=(299, 299, 3))
    path = tmp_path_factory.mktemp("inception") / "inception_v3_notop.weights.h5"
    model.save_weights(str(path))
    return str(path)


def test_loads_weights_and_embeds_gray_and_rgb_images(weights_file):
    model = inception.load_inception(weights_file)
    assert inception.metric_name(model) == "frechet_distance_keras_inception"  # not the FID network
    assert "not the FID network" in inception.describe(model)
    extract = inception.feature_extractor(model, batch_size=2)
    rng = np.random.default_rng(0)
    gray = rng.uniform(size=(4, 28, 28, 1)).astype(np.float32)
    features = extract(gray)
    assert features.shape == (4, inception.FEATURES) and features.dtype == np.float64
    assert np.all(np.isfinite(features)) and features.std() > 0
    np.testing.assert_allclose(extract(np.repeat(gray, 3, axis=-1)), features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extract(gray[::-1])[::-1], features, rtol=1e-5, atol=1e-6)  # batching
    assert frechet.frechet_distance_of_samples(features, features) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(inception.InceptionError, match=r"images \[n, H, W, 1 or 3\]"):
        extract(gray[..., 0])


def test_a_keras_file_of_the_wrong_kind_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not weights")
    with pytest.raises(inception.InceptionError, match="notes.h5.*is not an Inception-v3 weights"):
        inception.load_inception(str(text))
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other_path = tmp_path / "dense.weights.h5"
    other.save_weights(str(other_path))
    with pytest.raises(inception.InceptionError, match="dense.weights.h5"):
        inception.load_inception(str(other_path))
    with pytest.raises(inception.InceptionError, match="is not a file"):
        inception.load_inception(str(tmp_path / "missing.h5"))
