"""``python -m tf_dpvae.tune``: the ``tune`` command, which lives in ``tf_dpvae.cli.tune``."""

import sys

from tf_dpvae.cli.tune import main

if __name__ == "__main__":
    sys.exit(main())
