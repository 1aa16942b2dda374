#!/usr/bin/env bash
# One-time (and idempotent) set-up: Debian data package, a virtual environment in .venv with the
# pinned requirements and the package itself (editable: .venv/bin/tf-dpvae, and `import tf_dpvae` from
# any directory, both running this checkout's code). Safe to rerun: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# Real Fashion-MNIST for offline training (IDX files under /usr/share/datasets/fashion-mnist/).
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || echo "setup.sh: could not install dataset-fashion-mnist; --dataset fashion_mnist will use TFDS" >&2
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# requirements-dev.txt = requirements.txt plus the Jupyter pieces that execute notebooks/ in the tests;
# requirements-docs.txt = the documentation site's builder (mkdocs build --strict, docs/about-these-docs.md)
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r requirements-docs.txt
# the package itself, editable, without touching the pinned set above (its dependencies are in it)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
