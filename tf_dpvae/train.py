"""``python -m tf_dpvae.train``: the ``train`` command, which lives in ``tf_dpvae.cli.train``."""

import sys

from tf_dpvae.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
