#!/usr/bin/env bash
# The Python package: builds the wheel (dev profile, sharing target/ with the
# Rust tests), installs it into a fresh virtual environment and runs the pytest
# suite in python/tests against the installed package. Run by scripts/test.sh;
# safe to run repeatedly (pip's cache keeps the downloads).
#
# torch: the environment sees the machine's own packages (--system-site-packages),
# so a torch already installed is used as it is. Without one, the CPU build is
# installed from PyTorch's index when that is reachable, else PyPI's build (it
# carries CUDA libraries, about 5 GB with diffusers and torchao, unused on a
# machine without a GPU, and its tests run on the CPU all the same). Only when
# neither can be installed are the tests that need torch skipped, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${NANSCOPE_VENV:-target/python-venv}
pip_flags=(--quiet --disable-pip-version-check)

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
        || echo "test-python: no torch could be installed; the tests that need torch are skipped"
fi
if "$py" -c 'import torch' >/dev/null 2>&1; then
    "$py" -m pip install "${pip_flags[@]}" diffusers torchao \
        || echo "test-python: diffusers/torchao could not be installed; their tests are skipped"
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
