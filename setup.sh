#!/usr/bin/env bash
# One-time (and idempotent) set-up: Debian packages (data, node), a virtual environment in .venv with the
# pinned requirements and the package itself (editable: .venv/bin/tf-dpvae, and `import tf_dpvae` from
# any directory, both running this checkout's code), and node_modules/ for the documentation's math.
# Safe to rerun: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""
apt_install() {  # apt_install WHY PACKAGE...: install from Debian if apt-get is there, else say what is missing
  if command -v apt-get >/dev/null 2>&1; then
    [ -n "$APT_UPDATED" ] || { $SUDO apt-get update -qq || true; APT_UPDATED=1; }
    $SUDO apt-get install -y -qq "${@:2}" >/dev/null && return 0
  fi
  echo "setup.sh: could not install ${*:2}; $1" >&2
}
# Real Fashion-MNIST for offline training (IDX files under /usr/share/datasets/fashion-mnist/).
[ -d /usr/share/datasets/fashion-mnist ] \
  || apt_install "--dataset fashion_mnist will use TFDS" dataset-fashion-mnist
# node and npm, for the documentation's math (the end of this script).
command -v npm >/dev/null 2>&1 \
  || apt_install "mkdocs build cannot render the equations of docs/explanation/method.md" nodejs npm

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# requirements-dev.txt = requirements.txt plus the Jupyter pieces that execute notebooks/ in the tests;
# requirements-docs.txt = the documentation site's builder (mkdocs build --strict, docs/about-these-docs.md)
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r requirements-docs.txt
# the package itself, editable, without touching the pinned set above (its dependencies are in it)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
# The documentation's math: MathJax 3 (npm package mathjax-full, pinned by package-lock.json) renders the
# equations to SVG when the site is built (docs/hooks.py runs docs/tex2svg.js under node), so the site
# needs no network to show them. Into node_modules/ (git ignores it); again only when the lockfile changed.
if command -v npm >/dev/null 2>&1; then
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
else
  echo "setup.sh: npm not found; mkdocs build will stop at the first page with an equation" >&2
fi
