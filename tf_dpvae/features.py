"""``python -m tf_dpvae.features``: the ``features`` command, which lives in ``tf_dpvae.cli.features``."""

import sys

from tf_dpvae.cli.features import main

if __name__ == "__main__":
    sys.exit(main())
