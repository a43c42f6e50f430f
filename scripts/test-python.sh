#!/usr/bin/env bash
# The Python package: builds the wheel (dev profile, sharing target/ with the
# Rust tests), installs it into a fresh virtual environment and runs the pytest
# suite in python/tests against the installed package. Run by scripts/test.sh;
# safe to run repeatedly (pip's cache keeps the downloads, unless
# PIP_NO_CACHE_DIR is set, as .ci/run does).
#
# torch: the environment sees the machine's own packages (--system-site-packages),
# so a torch already installed is used as it is. Without one, the CPU build is
# installed from PyTorch's index when that is reachable, else PyPI's build (it
# carries CUDA libraries, about 5 GB with diffusers and torchao, unused on a
# machine without a GPU, and its tests run on the CPU all the same). Only when
# neither can be installed are the tests that need torch skipped, saying so;
# with NANSCOPE_TORCH_TESTS=require (as .ci/run sets) the script fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${NANSCOPE_VENV:-target/python-venv}
pip_flags=(--quiet --disable-pip-version-check)

# What could not be installed, with the free disk space (PyPI's torch needs
# several GB); fatal when the torch tests are required.
missing() {
    echo "test-python: $1 could not be installed ($(df -Ph . | awk 'NR == 2 { print $4 }') free on disk); the tests that need it are skipped"
    if [ "${NANSCOPE_TORCH_TESTS:-}" = require ]; then
        echo "test-python: NANSCOPE_TORCH_TESTS=require, so this fails the run" >&2
        exit 1
    fi
}

start=$SECONDS
python3 -m venv --clear --system-site-packages "$venv"
py="$venv/bin/python"
# maturin's command must be in the environment itself, even when the machine has one.
"$py" -m pip install "${pip_flags[@]}" --ignore-installed "maturin>=1.9.4,<2"
"$py" -m pip install "${pip_flags[@]}" pytest numpy safetensors
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
    "$py" -m pip install "${pip_flags[@]}" --timeout 15 --retries 0 torch \
        --index-url https://download.pytorch.org/whl/cpu >/dev/null 2>&1 \
        || "$py" -m pip install "${pip_flags[@]}" torch \
        || missing torch
fi
if "$py" -c 'import torch' >/dev/null 2>&1; then
    "$py" -m pip install "${pip_flags[@]}" diffusers torchao \
        || missing "diffusers or torchao"
fi
echo "test-python: environment ready in $((SECONDS - start)) s"

start=$SECONDS
rm -rf target/wheels
"$venv/bin/maturin" build --quiet --profile dev --interpreter "$py" --out target/wheels
"$py" -m pip install "${pip_flags[@]}" --force-reinstall --no-deps target/wheels/nanscope-*.whl
echo "test-python: wheel built and installed in $((SECONDS - start)) s"

start=$SECONDS
# From the tests' folder, so that `import nanscope` is the installed package.
(cd python/tests && PATH="$PWD/../../$venv/bin:$PATH" "../../$py" -m pytest -q -p no:cacheprovider -rs)
echo "test-python: pytest in $((SECONDS - start)) s"
