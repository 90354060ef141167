#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond npm: Python 3 with numpy, torch and onnx,
# used to generate the FinalNet benchmark model from ../shared/models (python3-numpy is also what
# Python-backend models run with), and the DejaVu fonts the text-detection test renders its image
# with. Skips apt when everything is already there.
set -euo pipefail
PY=/usr/bin/python3
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
if [ -x "$PY" ] && "$PY" -c 'import numpy, torch, onnx' 2>/dev/null && [ -f "$FONT" ]; then
  echo "install-test-deps: python3-numpy, python3-torch, python3-onnx and fonts-dejavu-core are already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3 python3-numpy python3-torch python3-onnx fonts-dejavu-core >/dev/null
"$PY" -c 'import numpy, torch, onnx; print("install-test-deps: numpy", numpy.__version__, "torch", torch.__version__, "onnx", onnx.__version__)'
