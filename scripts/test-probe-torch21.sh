#!/usr/bin/env bash
# The probe on the oldest torch it supports: installs torch 2.1 (with
# numpy<2 and a diffusers of its time) into a virtual environment that sees
# none of the machine's packages, installs the wheel that scripts/test-python.sh
# built, and runs the probe's tests (python/tests/test_probe.py) there.
# The newest torch is tested by scripts/test-python.sh itself.
#
# torch 2.1's CPU build comes from PyTorch's own index when that is reachable;
# otherwise PyPI's build is installed (it carries CUDA libraries, about 2.5 GB
# downloaded once, unused on a machine without a GPU). The environment is kept
# between runs (outside the clone, in the user's cache) while its torch is 2.1,
# so only the first run pays for the download and the install; the wheel is
# reinstalled every time.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${NANSCOPE_TORCH21_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nanscope/torch21-venv}
pip_flags=(--quiet --disable-pip-version-check)
wheel=$(ls target/wheels/nanscope-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo "test-probe-torch21: no wheel in target/wheels: run scripts/test-python.sh first" >&2
    exit 2
fi

start=$SECONDS
py="$venv/bin/python"
if ! "$py" -c 'import sys, torch, numpy, pytest, diffusers; sys.exit(not torch.__version__.startswith("2.1."))' \
    >/dev/null 2>&1; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv --clear "$venv"
    "$py" -m pip install "${pip_flags[@]}" --timeout 15 --retries 0 --index-url https://download.pytorch.org/whl/cpu \
        "torch==2.1.*" >/dev/null 2>&1 \
        || "$py" -m pip install "${pip_flags[@]}" "torch==2.1.*"
    # diffusers 0.30 is the last line whose tiny pipelines run unchanged on torch 2.1 and numpy 1.
    "$py" -m pip install "${pip_flags[@]}" "numpy<2" pytest safetensors "diffusers==0.30.*"
fi
"$py" -m pip install "${pip_flags[@]}" --force-reinstall --no-deps "$wheel"
versions=$("$py" -c 'import sys, torch, numpy, diffusers; print(f"python {sys.version.split()[0]}, torch {torch.__version__}, numpy {numpy.__version__}, diffusers {diffusers.__version__}")')
echo "test-probe-torch21: environment ready in $((SECONDS - start)) s ($versions)"

start=$SECONDS
# From the tests' folder, so that `import nanscope` is the installed package.
(cd python/tests && PATH="$venv/bin:$PATH" "$py" -m pytest -q -p no:cacheprovider -rs test_probe.py)
echo "test-probe-torch21: probe tests in $((SECONDS - start)) s"
