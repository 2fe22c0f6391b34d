#!/usr/bin/env bash
# Installs the Python oracles of the interop tests (transformers, PEFT, h5py, ...) into
# BUILD/interop-venv, pinned by packaging/interop-requirements.txt. Nothing from them
# enters the product; tests labelled `interop` use them to check that the files Nugget
# writes load in those libraries as meant.
#
#   bash packaging/setup-interop.sh [BUILD_DIR]      (default: build)
#
# Re-running is cheap: the venv is rebuilt only when the requirements file changes. Where
# PyPI cannot be reached the script says so and exits 0; the interop tests then skip with
# a message naming this script. Set NUGGET_INTEROP_REQUIRED=1 to make that an error.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
venv="$build/interop-venv"
requirements="$root/packaging/interop-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "setup-interop: $venv is up to date"
  exit 0
fi

python=/usr/bin/python3
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "setup-interop: $python cannot create a virtual environment (install python3-venv)" >&2
  [ "${NUGGET_INTEROP_REQUIRED:-0}" = 1 ] && exit 1 || exit 0
fi

mkdir -p "$build"
partial="$build/interop-venv.partial"
rm -rf "$partial"
echo "setup-interop: installing the interop oracles into $venv (about 6 GB, a few minutes)"
# Installed under a temporary name and moved into place when complete, so an interrupted
# install never looks ready. Tests run BUILD/interop-venv/bin/python, which survives the
# move (the venv's own pip scripts are not used).
if "$python" -m venv "$partial" \
   && "$partial/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --timeout 60 --retries 2 -r "$requirements"; then
  rm -rf "$venv" && mv "$partial" "$venv" && echo "$want" > "$stamp"
  echo "setup-interop: ready ($("$venv/bin/python" -c 'import transformers, peft, torch; print("transformers", transformers.__version__, "peft", peft.__version__, "torch", torch.__version__)'))"
  exit 0
fi
rm -rf "$partial"
echo "setup-interop: could not install packaging/interop-requirements.txt from PyPI;" \
     "the interop tests will be skipped" >&2
[ "${NUGGET_INTEROP_REQUIRED:-0}" = 1 ] && exit 1 || exit 0
