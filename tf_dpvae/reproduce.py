"""``python -m tf_dpvae.reproduce``: the ``reproduce`` command, which lives in ``tf_dpvae.cli.reproduce``."""

import sys

from tf_dpvae.cli.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
