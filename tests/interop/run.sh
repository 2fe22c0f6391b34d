#!/usr/bin/env bash
# Runs one interop test script with the pinned oracles in BUILD/interop-venv, or skips
# (exit 77, CTest's SKIP_RETURN_CODE) with the reason when they are not installed.
#   run.sh VENV SCRIPT [ARGS...]
venv="$1"; shift
if [ ! -x "$venv/bin/python" ]; then
  echo "SKIPPED: the interop oracles are not installed in $venv;" \
       "run: bash packaging/setup-interop.sh $(dirname "$venv")"
  exit 77
fi
exec "$venv/bin/python" "$@"
