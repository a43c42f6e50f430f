#!/usr/bin/env python3
"""Validates nanscope output files against the published schemas.

usage: validate_outputs.py SCHEMA_DIR FILE...  (*.sarif against the SARIF
2.1.0 JSON schema, *.xml against the JUnit XSD). Exit 0 when every file is
valid; otherwise each error is printed and the exit status is 1.
"""

import json
import sys
from pathlib import Path

import jsonschema
import xmlschema


def main() -> int:
    schemas = Path(sys.argv[1])
    sarif = json.loads((schemas / "sarif-2.1.0.json").read_text())
    junit = xmlschema.XMLSchema(str(schemas / "junit-10.xsd"))
    failed = False
    for name in sys.argv[2:]:
        path = Path(name)
        if path.suffix == ".sarif":
            validator = jsonschema.Draft4Validator(sarif)
            errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(json.loads(path.read_text()))]
        elif path.suffix == ".xml":
            errors = [str(e) for e in junit.iter_errors(str(path))]
        else:
            errors = [f"unknown kind of file {path.suffix!r}"]
        for error in errors:
            print(f"{path}: {error}")
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
