#!/usr/bin/env bash
# Installs every Debian 12 package Nugget needs to build, test and run.
# Idempotent: packages already present are skipped by apt. Works as root or via sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ninja-build
  # Qt 6 (widgets, tests, translations, SVG export) and the offscreen/xcb platforms
  qt6-base-dev qt6-base-dev-tools qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools
  qt6-svg-dev qt6-qpa-plugins libgl-dev
  # plotting
  libqcustomplot-dev libqcustomplot2.1-qt6
  # tensors: libtorch plus a fast BLAS (reference BLAS is ~25x slower)
  libtorch-dev libopenblas0-pthread
  # data-parallel process groups (libtorch c10d over Gloo needs its headers)
  libgloo-dev
  # sessions and tokenizers
  libhdf5-dev zlib1g-dev libsentencepiece-dev
  # headless display for GUI runs without a screen
  xvfb xauth
  # tests that check sessions are readable by other tools
  python3-h5py
  # the venv of the interop tests (packaging/setup-interop.sh)
  python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
