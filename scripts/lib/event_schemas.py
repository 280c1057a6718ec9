"""The domain events' schemas (infra/events.asyncapi.yaml) are true: each
sample under events/domain-events/ that the function accepts matches its
detail-type's schema, the malformed one does not, and every channel has a
sample. Run by scripts/lib/contract.sh with the contract tools' Python."""
import glob
import json
import sys

import jsonschema
import yaml

doc = yaml.safe_load(open("infra/events.asyncapi.yaml"))
assert doc["asyncapi"].startswith("3."), "not AsyncAPI 3"
schemas = doc["components"]["schemas"]
seen = set()
failures = []
for path in sorted(glob.glob("events/domain-events/*.json")):
    event = json.load(open(path))
    kind = event["detail-type"]
    name = f"{kind}Event"
    if name not in schemas:
        failures.append(f"{path}: no schema for {kind}")
        continue
    # The document as the root, so its "#/components/..." references resolve.
    schema = dict(doc, **{"$ref": f"#/components/schemas/{name}"})
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(event))
    if path.endswith("malformed-detail.json"):
        if not errors:
            failures.append(f"{path}: expected to break its schema")
        continue
    seen.add(kind)
    failures += [f"{path}: {e.message}" for e in errors]
missing = set(doc["channels"]) - seen
if missing:
    failures.append(f"no valid sample for {sorted(missing)}")
if failures:
    sys.exit("events.asyncapi.yaml:\n  " + "\n  ".join(failures))
print(f"domain event schemas: {len(seen)} types, samples valid")
