"""``python -m tf_dpvae.retrofit``: the ``retrofit`` command, which lives in ``tf_dpvae.cli.retrofit``."""

import sys

from tf_dpvae.cli.retrofit import main

if __name__ == "__main__":
    sys.exit(main())
