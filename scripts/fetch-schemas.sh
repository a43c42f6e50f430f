#!/usr/bin/env bash
# Brings the published schemas the output-format tests validate against into
# target/schemas/ (not committed), with the registries' own clients:
#   sarif-2.1.0.json  the SARIF 2.1.0 JSON schema (rtm.5, the released 2.1.0),
#                     shipped in the npm package @microsoft/jest-sarif
#   junit-10.xsd      the JUnit XML schema Jenkins reads (as GitHub and GitLab's
#                     JUnit readers accept it), shipped in pytest's source
#                     distribution on PyPI
# and the Python validators (jsonschema, xmlschema). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/schemas
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -c 'import jsonschema, xmlschema' >/dev/null 2>&1 ||
    python3 -m pip install --quiet --disable-pip-version-check jsonschema xmlschema

if [ ! -s "$dest/sarif-2.1.0.json" ]; then
    (cd "$work" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null)
    tar -xzf "$work"/microsoft-jest-sarif-1.0.0-beta.0.tgz -C "$work" package/lib/schemas/sarif-2.1.0-rtm.5.json
    cp "$work/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$dest/sarif-2.1.0.json"
fi

if [ ! -s "$dest/junit-10.xsd" ]; then
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        --dest "$work" pytest==8.3.5
    tar -xzf "$work"/pytest-8.3.5.tar.gz -C "$work" pytest-8.3.5/testing/example_scripts/junit-10.xsd
    cp "$work/pytest-8.3.5/testing/example_scripts/junit-10.xsd" "$dest/junit-10.xsd"
fi
