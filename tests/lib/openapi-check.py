#!/usr/bin/env python3
"""tests/lib/openapi-check.py REPO: docs/openapi.json against the code.

Checks that the document is JSON and an OpenAPI 3.0 document (with
openapi_spec_validator when it is installed, from pip: Debian 12 has no
package of it; otherwise its own checks of the shape), and that it matches
what augurd serves:

- every (method, pattern) of node/http_v1.c's v1_routes[] is a path and
  operation of the document, with its path parameters, and the document has
  no other operation than those and GET /v1/events, /v1/openapi.json,
  /healthz, /readyz and /metrics;
- a route taking a JSON body documents it as an object with exactly the
  op's argument keys (common/ops.h's F() rows for a store op, the route's
  keys_* list for a node op) less the path's, additionalProperties false,
  and as required the REQ* fields; a route without a body documents those
  keys as query parameters instead;
- the answer is 202 for a V1_ACCEPTED route and 200 for the others, and
  every route documents the error answers (400, 401, 403, 404, 405, 409,
  413, 503) with the shared Error schema, which every $ref resolves to;
- the bearer scheme is the default, and /healthz, /readyz and
  /v1/openapi.json need no token.

Prints one line per problem and exits 1 if there is any."""
import json
import re
import sys

REPO = sys.argv[1] if len(sys.argv) > 1 else "."
problems = []


def bad(msg):
    problems.append(msg)


def routes_of(src):
    """The rows of v1_routes[]: (method, pattern, op, arg1, arg2, flags, keys)."""
    start = src.index("v1_routes[] = {")
    table = src[start:src.index("};", start)]
    rows = re.findall(
        r'\{\s*(GET|POST|DEL)\s*,\s*"([^"]+)"\s*,\s*AUGUR_OP_(\w+)\s*,'
        r'\s*(NULL|"\w+")\s*,\s*(NULL|"\w+")\s*,\s*([^,]+?)\s*,\s*(NULL|\w+)\s*\}',
        table)
    n_lines = len(re.findall(r'^\s*\{\s*(GET|POST|DEL)\b', table, re.M))
    if len(rows) != n_lines or not rows:
        bad(f"node/http_v1.c: read {len(rows)} of the {n_lines} rows of "
            "v1_routes[]: fix this script's pattern")
    meth = {"GET": "get", "POST": "post", "DEL": "delete"}
    out = []
    for m, pat, op, a1, a2, flags, keys in rows:
        out.append(dict(method=meth[m], pattern=pat, op=op,
                        args=[a.strip('"') for a in (a1, a2) if a != "NULL"],
                        body="V1_BODY" in flags,
                        accepted="V1_ACCEPTED" in flags,
                        keys=None if keys == "NULL" else keys))
    return out


def keys_lists_of(src):
    return {m.group(1): re.findall(r'"([^"]+)"', m.group(2))
            for m in re.finditer(
                r'static const char \*const (keys_\w+)\[\] = \{([^}]*)\};',
                src)}


def store_ops_of(ops_h):
    """ID -> [(key, TYPE, FLAGS)] from AUGUR_STORE_OPS."""
    block = ops_h[ops_h.index("#define AUGUR_STORE_OPS(X)"):
                  ops_h.index("#define AUGUR_NODE_OPS(X)")]
    ops = {}
    for chunk in re.split(r'\bX\(', block)[1:]:
        head = re.match(r'\s*(\w+)\s*,', chunk)
        ops[head.group(1)] = re.findall(r'F\((\w+),\s*(\w+),\s*(\w+),', chunk)
    return ops


def expected_args(route, store_ops, keys_lists):
    """[(key, required)] the route's op takes (path arguments included), or
    None when its handler checks them (/v1/ops/{})."""
    if route["op"] in store_ops:
        out = []
        for key, typ, flags in store_ops[route["op"]]:
            if typ.startswith("LIST"):
                if key != "after":
                    out.append((key, False))
                out += [("after", False), ("limit", False)]
            else:
                out.append((key, flags.startswith("REQ")))
        return out
    if route["keys"] is not None:
        return [(k, None) for k in keys_lists[route["keys"]]]
    return None


def resolve(doc, node, seen=()):
    """Follow a $ref (local only)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            bad(f"$ref {ref}: not a local reference, or a loop")
            return {}
        seen = seen + (ref,)
        target = doc
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                bad(f"$ref {ref} resolves to nothing")
                return {}
            target = target[part]
        node = target
    return node


def check_refs(doc, node, where):
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(doc, node)
        for k, v in node.items():
            check_refs(doc, v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_refs(doc, v, f"{where}/{i}")


def main():
    src = open(f"{REPO}/node/http_v1.c").read()
    ops_h = open(f"{REPO}/common/ops.h").read()
    try:
        with open(f"{REPO}/docs/openapi.json", "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        print(f"docs/openapi.json is not JSON: {e}")
        return 1

    try:
        from openapi_spec_validator import validate
    except ImportError:
        validate = None
        print("openapi-check: openapi_spec_validator not installed: "
              "checking the shape only", file=sys.stderr)
    if validate is not None:
        try:
            validate(doc)
        except Exception as e:  # the validator's own exception types vary
            bad(f"openapi_spec_validator: {str(e).splitlines()[0]}")

    if not isinstance(doc, dict) or not re.match(r"3\.0\.\d+$",
                                                 str(doc.get("openapi"))):
        bad("not an OpenAPI 3.0 document (openapi: 3.0.x)")
        doc = doc if isinstance(doc, dict) else {}
    for key in ("info", "paths", "components"):
        if not isinstance(doc.get(key), dict):
            bad(f"no '{key}' object")
    info = doc.get("info", {})
    if not info.get("title") or not info.get("version"):
        bad("info needs a title and a version")
    paths = doc.get("paths", {})
    comps = doc.get("components", {})
    schemes = comps.get("securitySchemes", {})
    bearer = [n for n, s in schemes.items()
              if s.get("type") == "http" and s.get("scheme") == "bearer"]
    if not bearer:
        bad("no http bearer security scheme")
    elif doc.get("security") != [{bearer[0]: []}]:
        bad(f"the default security is not the bearer scheme: "
            f"{doc.get('security')}")
    if "Error" not in comps.get("schemas", {}) or "Page" not in comps.get(
            "schemas", {}):
        bad("components.schemas lacks Error or Page")
    check_refs(doc, doc, "#")

    store_ops = store_ops_of(ops_h)
    keys_lists = keys_lists_of(src)
    routes = routes_of(src)
    want = set()
    for r in routes:
        names = r["args"] if r["op"] != "NONE" else ["op"]
        path = r["pattern"]
        for name in names:
            path = path.replace("{}", "{" + name + "}", 1)
        if "{}" in path:
            bad(f"{r['pattern']}: more {{}} than path arguments")
        want.add((r["method"], path))
        op = paths.get(path, {}).get(r["method"])
        where = f"{r['method'].upper()} {path}"
        if op is None:
            bad(f"{where} (v1_routes[]) is not documented")
            continue
        params = [resolve(doc, p) for p in op.get("parameters", [])]
        in_path = sorted(p["name"] for p in params if p.get("in") == "path")
        if in_path != sorted(names):
            bad(f"{where}: path parameters {in_path}, the route has {names}")
        query = {p["name"]: p for p in params if p.get("in") == "query"}
        args = expected_args(r, store_ops, keys_lists)
        body = op.get("requestBody")
        if r["body"] and body is None:
            bad(f"{where}: takes a JSON body, none documented")
        if not r["body"] and body is not None:
            bad(f"{where}: documents a body the route refuses")
        if args is not None:
            rest = [(k, req) for k, req in args if k not in names]
            if body is not None:
                schema = resolve(doc, body.get("content", {}).get(
                    "application/json", {}).get("schema", {}))
                props = sorted(schema.get("properties", {}))
                if props != sorted(k for k, _ in rest):
                    bad(f"{where}: body fields {props}, the op takes "
                        f"{sorted(k for k, _ in rest)}")
                if schema.get("additionalProperties") is not False:
                    bad(f"{where}: the body must say additionalProperties "
                        "false (unknown fields are refused)")
                required = sorted(schema.get("required", []))
                must = sorted(k for k, req in rest if req)
                if r["op"] in store_ops and required != must:
                    bad(f"{where}: required {required}, ops.h says {must}")
            else:
                documented = sorted(k for k in query if k != "stale")
                if documented != sorted(k for k, _ in rest):
                    bad(f"{where}: query parameters {documented}, the op "
                        f"takes {sorted(k for k, _ in rest)}")
        ok = "202" if r["accepted"] else "200"
        responses = op.get("responses", {})
        if ok not in responses:
            bad(f"{where}: no {ok} answer documented")
        for code in ("400", "401", "403", "404", "405", "409", "413", "503"):
            res = resolve(doc, responses.get(code, {}))
            schema = res.get("content", {}).get("application/json",
                                                {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/Error":
                bad(f"{where}: answer {code} is not the Error schema")
        if "security" in op:
            bad(f"{where}: needs the default bearer security")

    extra = {("get", "/v1/events"): None, ("get", "/v1/openapi.json"): [],
             ("get", "/healthz"): [], ("get", "/readyz"): [],
             ("get", "/metrics"): "optional"}
    for (method, path), security in extra.items():
        op = paths.get(path, {}).get(method)
        if op is None:
            bad(f"{method.upper()} {path} is not documented")
            continue
        if security == [] and op.get("security") != []:
            bad(f"{method.upper()} {path} must say security: [] (no token)")
        if security == "optional" and {} not in op.get("security", []):
            bad(f"{method.upper()} {path}: the token is optional "
                "(--metrics-public): security must include {}")
    methods = {"get", "put", "post", "delete", "options", "head", "patch",
               "trace"}
    for path, item in paths.items():
        for method in item:
            if method in methods and (method, path) not in want and (
                    method, path) not in extra:
                bad(f"{method.upper()} {path} is documented but augurd has "
                    "no such route")

    for p in problems:
        print(f"docs/openapi.json: {p}")
    if not problems:
        print(f"docs/openapi.json: {len(routes)} routes of v1_routes[] and "
              f"{len(extra)} other endpoints, all documented, nothing else")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
