#!/usr/bin/env bash
# Installs the Debian 12 packages kiln needs to build and test. Safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev   # ONNX import (the only protobuf users)
  libfmt-dev nlohmann-json3-dev libcli11-dev libstb-dev libxxhash-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev ocl-icd-opencl-dev                    # fast CPU backend (Debian's dnnl-config.cmake asks for OpenCL)
  libonnx-testdata                                  # the official ONNX backend tests
  dataset-fashion-mnist                             # calibration/evaluation data for the demo
  python3-onnx python3-numpy                        # developer scripts (scripts/dev)
  chromium                                          # renders kiln compare's HTML report in tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
