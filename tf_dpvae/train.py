"""``python -m tf_dpvae.train``: the ``train`` command, which lives in ``tf_dpvae.cli.train``."""

import sys

from tf_dpvae.cli.train import *  # noqa: F403 - this path keeps working for imports too
from tf_dpvae.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
