#!/usr/bin/env python3
"""tests/lib/openapi-answer.py DOC METHOD PATH STATUS FILE: does the JSON
answer in FILE match what DOC (docs/openapi.json) documents for METHOD PATH
(a concrete path, "/v1/claims/web-1") and STATUS?  With METHOD "SCHEMA",
PATH names a schema of components.schemas ("Event") to check FILE against.

The subset of OpenAPI 3.0 schemas the document uses is checked: $ref,
allOf, type, nullable, enum, properties, required, additionalProperties,
items, minimum, maximum, minItems.  An object schema with properties and no
additionalProperties is taken as closed: a field the answer has and the
document does not name is reported, so that the document keeps up with the
answers.  Prints the mismatches and exits 1 if there is any; exits 2 when
DOC documents no such answer."""
import json
import re
import sys

doc_path, method, path, status, answer_path = sys.argv[1:6]
doc = json.load(open(doc_path))
answer = json.load(open(answer_path))
problems = []


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(
        v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def props_of(schema):
    """The properties @schema names, its allOf's included."""
    schema = resolve(schema)
    out = dict(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        out.update(props_of(sub))
    return out


def check(schema, value, where, closed=True):
    schema = resolve(schema)
    if value is None:
        if not schema.get("nullable") and schema:
            problems.append(f"{where}: null, and the schema is not nullable")
        return
    for sub in schema.get("allOf", []):
        check(sub, value, where, closed=False)
    typ = schema.get("type")
    if typ is not None and not TYPES[typ](value):
        problems.append(f"{where}: {json.dumps(value)[:80]} is not {typ}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, v in enumerate(value):
                check(schema["items"], v, f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        named = props_of(schema)
        for k in schema.get("required", []):
            if k not in value:
                problems.append(f"{where}: no '{k}'")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                check(props[k], v, f"{where}.{k}")
            elif isinstance(extra, dict):
                check(extra, v, f"{where}.{k}")
            elif k in named:
                pass  # an allOf part's: checked there
            elif extra is False or (extra is None and closed and named):
                problems.append(f"{where}: '{k}' is not documented")


def find_operation():
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+",
                               re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


if method == "SCHEMA":
    if path not in doc["components"]["schemas"]:
        print(f"no schema {path}")
        sys.exit(2)
    check({"$ref": f"#/components/schemas/{path}"}, answer, path)
    for p in problems:
        print(f"{path}: {p}")
    sys.exit(1 if problems else 0)
template, op = find_operation()
if op is None:
    print(f"{method} {path}: not documented")
    sys.exit(2)
response = resolve(op.get("responses", {}).get(status, {}))
schema = response.get("content", {}).get("application/json", {}).get("schema")
if schema is None:
    print(f"{method} {template}: no JSON answer {status} documented")
    sys.exit(2)
check(schema, answer, "answer")
for p in problems:
    print(f"{method} {template} {status}: {p}")
sys.exit(1 if problems else 0)
