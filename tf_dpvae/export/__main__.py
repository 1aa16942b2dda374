"""``python -m tf_dpvae.export``: the ``export`` command, which lives in ``tf_dpvae.cli.export``."""

import sys

from tf_dpvae.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
