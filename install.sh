#!/bin/sh
# Install qabot and its test tools into the active Python environment (README, step 1):
#
#   ./install.sh          torch's CPU build, unless `nvidia-smi` finds an NVIDIA GPU
#   ./install.sh --cpu    torch's CPU build (~200 MB)
#   ./install.sh --cuda   PyPI's default torch, with its CUDA libraries (~2.7 GB more)
#
# The CPU build comes from PyTorch's CPU wheel index (requirements-cpu.txt). Where that index
# cannot be reached (checked once, in a few seconds) torch comes from the indexes pip is set
# up with, and the script says so if that gave the CUDA build. Extra pip options pass on:
#   ./install.sh --cpu --no-cache-dir
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python}
TORCH="torch==2.13.0"   # the pin in pyproject.toml
CPU_INDEX=https://download.pytorch.org/whl/cpu

build=auto
case "${1:-}" in
    --cpu) build=cpu; shift ;;
    --cuda) build=cuda; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
esac
if [ "$build" = auto ]; then
    build=cpu
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        build=cuda
    fi
fi

reachable() {  # one quick look instead of pip retrying an unreachable index for every package
    "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/torch/", method="HEAD"), timeout=5)
except Exception:
    sys.exit(1)
PY
}

if [ "$build" = cpu ]; then
    if reachable "$CPU_INDEX"; then
        echo "install.sh: torch's CPU build, from $CPU_INDEX"
        "$PYTHON" -m pip install "$@" -r requirements-cpu.txt
    else
        echo "install.sh: $CPU_INDEX cannot be reached; torch from pip's configured indexes"
        "$PYTHON" -m pip install "$@" "$TORCH"
    fi
else
    echo "install.sh: torch with CUDA (PyPI's build); QABOT_DEVICE=auto or cuda uses the GPU"
fi
"$PYTHON" -m pip install "$@" -e ".[dev]"

if [ "$build" = cpu ] && ! "$PYTHON" -c "import torch, sys; sys.exit(torch.version.cuda is not None)"; then
    echo "install.sh: warning: this torch is a CUDA build (about 2.7 GB with its nvidia-* wheels)." >&2
    echo "  For the CPU build: pip uninstall -y torch \$(pip list | grep -o '^nvidia-[^ ]*')" >&2
    echo "  then pip install -r requirements-cpu.txt (needs $CPU_INDEX)." >&2
fi
