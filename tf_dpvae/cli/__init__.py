"""The commands, in one place (no TensorFlow import until a command's arguments are known good).

    main.py       ``tf-dpvae COMMAND ...``: the console script, one subcommand per module below
    train.py      train a run                      (also ``python -m tf_dpvae.train``)
    evaluate.py   evaluate a run                   (also ``python -m tf_dpvae.evaluate``)
    export.py     SavedModel for TF Serving        (also ``python -m tf_dpvae.export``)
    tune.py       hyperparameter search            (also ``python -m tf_dpvae.tune``)
    features.py   the Fréchet feature classifier   (also ``python -m tf_dpvae.features``)
    reproduce.py  the paper's Table 1              (also ``python -m tf_dpvae.reproduce``)
    retrofit.py   a prior fitted after training     (also ``python -m tf_dpvae.retrofit``)
    flags.py      flags generated from the configuration dataclasses' field metadata
    parsing.py    the one-line-error parser, argument types, UserError → one line and exit 2

Every command is ``main(argv=None, prog=...) -> int``; nothing in the library imports this package.
The ``python -m tf_dpvae.X`` modules are thin shims over these.
"""

from tf_dpvae.cli.parsing import OneLineParser, positive_int, seed_int

__all__ = ["OneLineParser", "positive_int", "seed_int"]
