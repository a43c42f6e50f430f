#!/usr/bin/env bash
# The Python package: builds the wheel (dev profile, sharing target/ with the
# Rust tests), installs it into a clean virtual environment with CPU torch,
# diffusers and torchao, and runs the pytest suite in python/tests against the
# installed package. Run by scripts/test.sh; safe to run repeatedly (pip's
# cache keeps the downloads).
#
#   NANSCOPE_TORCH=2.1.*  bash scripts/test-python.sh   # another torch (probe tests)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${NANSCOPE_VENV:-target/python-venv}
torch_spec="torch${NANSCOPE_TORCH:+==$NANSCOPE_TORCH}"
pip_flags=(--quiet --disable-pip-version-check)

start=$SECONDS
python3 -m venv --clear "$venv"
py="$venv/bin/python"
"$py" -m pip install "${pip_flags[@]}" --upgrade pip
"$py" -m pip install "${pip_flags[@]}" "maturin>=1.9.4,<2" pytest
# PyPI's torch is a CUDA build of several GB: the CPU wheels are enough here.
"$py" -m pip install "${pip_flags[@]}" "$torch_spec" --index-url https://download.pytorch.org/whl/cpu
if [ -n "${NANSCOPE_TORCH:-}" ]; then
    # An old torch keeps the NumPy 1 ABI and the diffusers of its time.
    "$py" -m pip install "${pip_flags[@]}" "numpy<2" safetensors "diffusers<0.30" "huggingface_hub<0.26"
else
    "$py" -m pip install "${pip_flags[@]}" numpy safetensors diffusers torchao
fi
echo "test-python: environment ready in $((SECONDS - start)) s"

start=$SECONDS
rm -rf target/wheels
"$venv/bin/maturin" build --profile dev --interpreter "$py" --out target/wheels
"$py" -m pip install "${pip_flags[@]}" --no-deps target/wheels/nanscope-*.whl
echo "test-python: wheel built and installed in $((SECONDS - start)) s"

start=$SECONDS
# From another folder, so that `import nanscope` is the installed package.
(cd python/tests && PATH="$PWD/../../$venv/bin:$PATH" "../../$py" -m pytest -q -p no:cacheprovider)
echo "test-python: pytest in $((SECONDS - start)) s"
