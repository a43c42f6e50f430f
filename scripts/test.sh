#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then runs the
# format check, clippy and every test. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# Debian splits venv (with ensurepip) out of python3; the Python tests need it.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The HTML report is opened in a real headless Chromium (tests/postmortem.rs).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "scripts/test.sh: please install: ${need_apt[*]}" >&2
    fi
fi

# numpy checks that files nanscope writes load in NumPy (pose round trips).
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check numpy
fi

# The published SARIF and JUnit schemas the output-format tests validate against.
bash scripts/fetch-schemas.sh
# Playwright drives the Debian Chromium (no browser download: executable_path).
if ! python3 -c 'import playwright' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check playwright
fi
export NANSCOPE_BROWSER_TEST=require

rustup component add rustfmt clippy >/dev/null 2>&1 || true

cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings   # with the Python extension (python/)
cargo test --locked

# The Python package: wheel, clean virtual environment with CPU torch, pytest.
bash scripts/test-python.sh
