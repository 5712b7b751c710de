"""Reads the dbt artifacts in a folder with dbt-core's own artifact classes.

Each file is checked against the JSON schema dbt-core generates for its class, read
with `read_and_check_versions` (which refuses another schema version), and the
manifest is loaded into dbt's in-memory `Manifest`, as `dbt docs` and state
comparison load one. Usage: python validate_artifacts.py TARGET_DIR; prints one line
per file and exits 1 on the first problem.
"""

import pathlib
import sys
import json

import jsonschema
from dbt.artifacts.schemas.freshness import FreshnessExecutionResultArtifact
from dbt.artifacts.schemas.manifest import WritableManifest
from dbt.artifacts.schemas.run import RunResultsArtifact
from dbt.contracts.graph.manifest import Manifest

CLASSES = {
    "manifest.json": WritableManifest,
    "run_results.json": RunResultsArtifact,
    "sources.json": FreshnessExecutionResultArtifact,
}


def main(target):
    for name, cls in CLASSES.items():
        path = target / name
        if not path.exists():
            sys.exit(f"{name}: missing")
        data = json.loads(path.read_text())
        errors = sorted(jsonschema.Draft7Validator(cls.json_schema()).iter_errors(data), key=str)
        if errors:
            sys.exit(f"{name}: {len(errors)} schema error(s), first: {errors[0].message} at {list(errors[0].path)}")
        artifact = cls.read_and_check_versions(str(path))
        if name == "manifest.json":
            manifest = Manifest.from_writable_manifest(artifact)
            disabled = sum(len(versions) for versions in (manifest.disabled or {}).values())
            print(f"valid {name}: {len(manifest.nodes)} nodes, {len(manifest.sources)} sources, {disabled} disabled")
        else:
            print(f"valid {name}: {len(artifact.results)} results")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
