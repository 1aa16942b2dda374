"""``python -m tf_dpvae.tune``: the ``tune`` command, which lives in ``tf_dpvae.cli.tune``."""

import sys

from tf_dpvae.cli.tune import *  # noqa: F403 - this path keeps working for imports too
from tf_dpvae.cli.tune import main

if __name__ == "__main__":
    sys.exit(main())
