"""``python -m tf_dpvae.features``: the ``features`` command, which lives in ``tf_dpvae.cli.features``."""

import sys

from tf_dpvae.cli.features import *  # noqa: F403 - this path keeps working for imports too
from tf_dpvae.cli.features import main

if __name__ == "__main__":
    sys.exit(main())
