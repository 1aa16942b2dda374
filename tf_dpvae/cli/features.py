"""Command ``features`` (``tf-dpvae features``, ``python -m tf_dpvae.features``): ``--dataset
fashion_mnist`` trains and caches the feature
classifier of the offline Fréchet distance (``evaluation.classifier``), and prints its test accuracy.

Labelled data come from the project's own loader, ``tf_dpvae.data.load`` (the same images, scaling and
splits that ``train`` and ``evaluate`` see): ``--dataset`` is any name it accepts whose splits carry
labels (``fashion_mnist`` offline from Debian's IDX files, ``mnist`` and other TFDS sets, ``npz:PATH``
with a ``labels`` array). The classifier trains on the training split and is scored on the test split
(the validation split when the source has no test split). ``--npz FILE`` instead takes arrays
``x_train``, ``y_train``, ``x_test``, ``y_test`` (images NHWC in [0, 1] or uint8 0-255, integer labels).

Cache: ``--out``, by default ``runs/features/<dataset>`` (``classifier.default_classifier_dir``), which
is where ``python -m tf_dpvae.evaluate`` looks when it is not given ``--classifier DIR``.
"""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np

from tf_dpvae.cli import flags
from tf_dpvae.cli.parsing import OneLineParser, add_progress_flag, examples, keras_verbose, out_dir_problem, run_command
from tf_dpvae.config import ConfigError
from tf_dpvae.errors import UserError
from tf_dpvae.evaluation.settings import FeatureSettings
from tf_dpvae.quiet import import_tensorflow_quietly

PROG = "python -m tf_dpvae.features"


class FeatureDataError(UserError):
    pass


def load_npz(path):
    """(x_train, y_train, x_test, y_test) from an .npz of labelled arrays; images → float [n, H, W, C]."""
    from tf_dpvae.datasets.local import check_npy_headers

    check_npy_headers(path, f"--npz {path!r}")   # sizes before any array is allocated (issue 26)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:   # not an .npz
        raise FeatureDataError(f"--npz {path!r}: expected arrays x_train, y_train, x_test, y_test "
                               f"({err})") from None
    out = []
    for i, a in enumerate(arrays):
        if i % 2 == 0:
            a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
            a = a[..., None] if a.ndim == 3 else a
        else:
            a = a.astype(np.int64)
        out.append(a)
    return tuple(out)


def build_parser(prog: str = PROG):
    """The parser: one flag per field of ``FeatureSettings`` (``flags.add_settings_flags``);
    ``--dataset`` and ``--npz`` are a required, mutually exclusive pair."""
    p = OneLineParser(prog=prog,
                      description="Train and cache the classifier whose penultimate features give the "
                      "offline Fréchet distance (reported as frechet_distance_classifier, not as FID).",
                      epilog=examples(f"{prog} --dataset fashion_mnist",
                                      f"{prog} --npz labelled.npz --out runs/features/mine --epochs 8"))
    add_progress_flag(p)
    source = p.add_mutually_exclusive_group(required=True)
    flags.add_settings_flags(p, FeatureSettings, containers={"source": source})
    return p


def main(argv=None, prog: str = PROG) -> int:
    """Train and cache the classifier; 0 on success, 2 for bad input (one line on stderr)."""
    return run_command(build_parser(prog), argv, lambda _, args: features(args, keras_verbose(args.no_progress)))


def features(args, verbose: int = 2) -> int:
    args = FeatureSettings(**flags.settings_values(FeatureSettings, args))
    name = args.dataset or os.path.splitext(os.path.basename(args.npz))[0]
    problem = out_dir_problem(args.out)   # '' is an error, not the default; a file; unwritable
    if problem:
        raise ConfigError(problem)
    import_tensorflow_quietly()   # its native start-up lines would turn one error line into seven
    from tf_dpvae.evaluation import classifier

    out = args.out or classifier.default_classifier_dir(name)
    problem = out_dir_problem(out)
    if problem:
        raise ConfigError(problem)
    if args.npz:
        x, y, xt, yt = load_npz(args.npz)
        classifier.check_labelled(x, y)
        classifier.check_labelled(xt, yt)
        model, accuracy = classifier.train_classifier(
            x, y, xt, yt, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
            verbose=verbose)
        info = classifier.save_classifier(model, out, accuracy, extra={
            "dataset": name, "epochs": args.epochs, "seed": args.seed, "train_examples": len(x),
            "test_examples": len(xt), "accuracy_split": "test"})
    else:  # the same library function reproduce table1 uses when its classifier is missing
        info = classifier.train_dataset_classifier(
            args.dataset, out, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
            data_dir=args.data_dir, verbose=verbose)
    print(f"{info['accuracy_split']} accuracy: {info['test_accuracy']:.4f} "
          f"({info['test_examples']} examples)")
    print(f"weights sha256: {info['weights_sha256']}")
    print(f"cached in:     {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
