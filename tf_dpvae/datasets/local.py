"""A user's own data: ``npz:PATH`` (a NumPy archive or array: images, or vectors [N, D]),
``folder:PATH`` (a folder of image files), and arrays handed over in Python (``array_splits``).

All are held out 10% for validation after a permutation drawn from the run's seed (user files are
often sorted by class or name, so the last 10% in file order would not be representative); none
has a test split. Vectors are standardized with the training split's mean and standard deviation,
as two moons are, and the constants travel with the splits (``Splits.standardization``).
"""

from __future__ import annotations

import dataclasses
import os
import zipfile

import numpy as np

from tf_dpvae.config import DataConfig
from tf_dpvae.datasets.base import (DataError, Splits, crop_and_resize, num_validation, standardize,
                                    to_unit_float)

IMAGE_ARRAY_KEYS = ("images", "x", "x_train")
ARRAYS = "arrays"   # the data set name prefix of arrays passed in Python: ``arrays:NAME``
LABEL_ARRAY_KEYS = ("labels", "y", "y_train")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm")
_GREY_MODES = ("1", "L", "LA")


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(crop_and_resize(images, size)) if size else images


def _split(images: np.ndarray, labels, name: str, seed: int, class_names=None) -> Splits:
    if len(images) < 2:
        raise DataError(f"{name}: needs at least 2 images (training and validation), got "
                        f"{len(images)}")
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = num_validation(len(images))
    train, val = order[:-n_val], order[-n_val:]
    return Splits(train=images[train], validation=images[val], name=name,
                  train_labels=None if labels is None else labels[train],
                  validation_labels=None if labels is None else labels[val],
                  class_names=class_names)


def _vector_splits(vectors: np.ndarray, labels, name: str, seed: int) -> Splits:
    """Vectors [N, D] (any real dtype, finite) → splits standardized with the training split's
    mean and standard deviation (``base.standardize``), the constants recorded."""
    if not (np.issubdtype(vectors.dtype, np.floating) or np.issubdtype(vectors.dtype, np.integer)):
        raise DataError(f"{name}: vectors must be numbers; got dtype {vectors.dtype}")
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise DataError(f"{name}: no vectors (shape {vectors.shape})")
    vectors = vectors.astype(np.float32)
    if not np.isfinite(vectors).all():
        raise DataError(f"{name}: vectors must be finite; found NaN or infinite values")
    split = _split(vectors, labels, name, seed)
    train, validation, constants = standardize(split.train, split.validation)
    return dataclasses.replace(split, train=train, validation=validation, standardization=constants)


def array_splits(x, name: str, seed: int, labels=None, image_size: int = 0) -> Splits:
    """Splits of one array a user holds: vectors [N, D] (standardized, as two moons) or images
    [N, H, W(, C)] (uint8 0-255 or float in [0, 1]); 10% held out for validation after a permutation
    from ``seed``. ``labels``: integers [N] or None. ``name`` names the source in messages and is
    the ``Splits.name``."""
    x = np.asarray(x)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{name}: labels must be integers of shape ({len(x)},); got "
                            f"{labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
    if x.ndim == 2:
        return _vector_splits(x, labels, name, seed)
    if x.ndim not in (3, 4):
        raise DataError(f"{name}: expected vectors [N, D] or images [N, H, W(, C)]; got shape "
                        f"{x.shape}")
    return _split(_resize(to_unit_float(x, name), image_size), labels, name, seed)


def refuse_arrays(name: str, config: DataConfig, seed: int) -> Splits:
    """``arrays:NAME``: a run trained on arrays passed in Python records this name, but the arrays
    are not stored with it, so there is nothing to load."""
    raise DataError(f"{ARRAYS}:{name} names arrays passed in Python (tf_dpvae.fit(data=...)), which "
                    f"are not stored with the run and cannot be loaded again; save them with "
                    f"numpy.save('data.npy', x) and use npz:data.npy")


def load_npz(path: str, config: DataConfig, seed: int) -> Splits:
    """Images or vectors from a ``.npz`` archive (or a ``.npy`` array).

    The data array is the one named ``images``, ``x`` or ``x_train``, or the archive's only array:
    images uint8 [N, H, W(, C)] (0-255) or float in [0, 1], C = 1 or 3; or vectors [N, D] of any
    real dtype, standardized with the training split's mean and standard deviation (recorded in the
    run, ``Splits.standardization``). Labels, if any: ``labels``, ``y`` or ``y_train``, integers [N].
    """
    source = f"npz:{path}"
    if not path:
        raise DataError("npz: needs a path, e.g. npz:/data/images.npz")
    if not os.path.isfile(path):
        raise DataError(f"{source}: no such file")
    check_npy_headers(path, source)   # sizes from the headers, before any array is allocated
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{source}: not a NumPy .npz/.npy file ({str(err).splitlines()[0]})") \
            from None
    if isinstance(loaded, np.ndarray):
        arrays = {"images": loaded}
    else:
        with loaded:
            try:
                arrays = {key: loaded[key] for key in loaded.files}
            except (ValueError, OSError, zipfile.BadZipFile) as err:
                raise DataError(f"{source}: unreadable array ({str(err).splitlines()[0]})") \
                    from None
    key = next((k for k in IMAGE_ARRAY_KEYS if k in arrays), None)
    if key is None and len(arrays) == 1:
        key = next(iter(arrays))
    if key is None:
        raise DataError(f"{source}: no data: expected an array named "
                        f"{', '.join(IMAGE_ARRAY_KEYS)} (or a single array); found "
                        f"{', '.join(sorted(arrays)) or 'no arrays'}")
    vectors = arrays[key].ndim == 2
    if vectors and config.image_size:
        raise DataError(f"{source} [{key}] holds vectors {arrays[key].shape}; --image-size applies to "
                        f"images (leave it out)")
    images = (arrays[key] if vectors
              else _resize(to_unit_float(arrays[key], f"{source} [{key}]"), config.image_size))
    labels = None
    label_key = next((k for k in LABEL_ARRAY_KEYS if k in arrays), None)
    if label_key is not None:
        labels = arrays[label_key]
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{source}: labels [{label_key}] must be integers of shape "
                            f"({len(images)},); got {labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
    if vectors:
        return _vector_splits(images, labels, source, seed)
    return _split(images, labels, source, seed)


# The largest image a folder may hold, in pixels (a PNG header may declare 20000² = 4e8 of them; its
# decoded copy would take 1.2 GB); checked from the header before decoding. 8192² is far above
# --image-size's 1024.
MAX_IMAGE_PIXELS = 8192 * 8192


def _npy_size(stream, declared_in: str, source: str) -> tuple[int, tuple]:
    """(bytes of data, shape) an ``.npy`` header on ``stream`` declares; DataError if unreadable."""
    try:
        version = np.lib.format.read_magic(stream)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)   # 2.0 and 3.0 share the layout
        shape, _, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise DataError(f"{source}: {declared_in} has no readable .npy header "
                        f"({str(err).splitlines()[0][:200]})") from None
    return int(np.prod(shape, dtype=object)) * dtype.itemsize, shape


def check_npy_headers(path: str, source: str) -> None:
    """DataError if an array in ``path`` (an .npz archive or a .npy file) declares more data than the
    file holds (a damaged or hostile header: 10^12 floats would be allocated before the read fails),
    or if an archive holds no .npy array at all. A path that is not a file is left to the caller."""
    if not os.path.isfile(path):
        return
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                return   # not an .npy file: np.load's own error names it
            f.seek(0)
            size, shape = _npy_size(f, "the file", source)
            held = os.path.getsize(path) - f.tell()
        if size > held:
            raise DataError(f"{source}: its header declares shape {shape} ({size:,} bytes) but the "
                            f"file holds {held:,}; the file is damaged")
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
            if not members:
                raise DataError(f"{source}: the zip archive holds no .npy array (found "
                                f"{len(archive.infolist())} other files); expected a NumPy .npz")
            for member in members:
                with archive.open(member) as f:
                    size, shape = _npy_size(f, member.filename, source)
                    held = member.file_size - f.tell()
                if size > held:
                    raise DataError(f"{source}: {member.filename} declares shape {shape} "
                                    f"({size:,} bytes) but holds {held:,}; the archive is damaged")
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{source}: not a NumPy .npz/.npy file ({str(err).splitlines()[0]})") \
            from None


def _image_files(root: str, source: str) -> list[str]:
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue  # .DS_Store and the like
            path = os.path.join(directory, name)
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                raise DataError(f"{source}: {os.path.relpath(path, root)} is not an image file "
                                f"(accepted: {', '.join(IMAGE_EXTENSIONS)})")
            files.append(path)
    if not files:
        raise DataError(f"{source}: no image files (accepted: {', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_folder(path: str, config: DataConfig, seed: int) -> Splits:
    """Every image file under ``path`` (recursively, sorted). Grey if every image is grey, else RGB
    (alpha dropped). All images must have one size unless ``image_size`` is set (then each is
    centre-cropped to a square and resized). If every image sits in a first-level subfolder, the
    subfolders are the classes (labels in sorted order of their names)."""
    source = f"folder:{path}"
    if not path:
        raise DataError("folder: needs a path, e.g. folder:/data/faces")
    if not os.path.isdir(path):
        raise DataError(f"{source}: no such directory")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError(f"{source}: reading image folders needs Pillow (pip install pillow)") \
            from None
    files = _image_files(path, source)
    decoded = []
    for file in files:
        try:
            with Image.open(file) as img:   # reads the header only
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise DataError(f"{source}: {os.path.relpath(file, path)} declares "
                                    f"{img.width}×{img.height} pixels; at most {MAX_IMAGE_PIXELS:,} "
                                    f"(8192×8192) are read")
                img.load()
                decoded.append(img.copy())
        except DataError:
            raise
        except Image.DecompressionBombError:   # Pillow's own bound, checked on open
            raise DataError(f"{source}: {os.path.relpath(file, path)} declares more pixels than "
                            f"{MAX_IMAGE_PIXELS:,} (8192×8192); it is not read") from None
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise DataError(f"{source}: {os.path.relpath(file, path)} is not a readable image "
                            f"({type(err).__name__})") from None
    grey = all(img.mode in _GREY_MODES for img in decoded)
    arrays = [np.asarray(img.convert("L" if grey else "RGB"), dtype=np.uint8) for img in decoded]
    if config.image_size:
        images = np.stack([_resize(to_unit_float(a[None], source), config.image_size)[0]
                           for a in arrays])
    else:
        sizes = sorted({a.shape[:2] for a in arrays})
        if len(sizes) > 1:
            raise DataError(f"{source}: images have different sizes ({sizes[0]} and {sizes[-1]}, "
                            f"H×W); give --image-size N to crop and resize them all to N×N")
        images = to_unit_float(np.stack(arrays), source)
    relative = [os.path.relpath(f, path) for f in files]
    labels, class_names = None, None
    if all(os.sep in r for r in relative):
        classes = [r.split(os.sep)[0] for r in relative]
        class_names = tuple(sorted(set(classes)))
        labels = np.array([class_names.index(c) for c in classes], dtype=np.int64)
    return _split(images, labels, source, seed, class_names)
