"""``python -m tf_dpvae.evaluate``: the ``evaluate`` command, which lives in ``tf_dpvae.cli.evaluate``."""

import sys

from tf_dpvae.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
