"""The console's side of the contract: every request the console sent to a
remote server (recorded by tests/browser/remote*.spec.ts) is validated against
the same OpenAPI document and with the same validator (openapi-core) as the
server's responses in contract.py: paths, methods, parameters, bodies and
credentials as StackStorm's API declares them.

    python console_requests.py <openapi.yaml> <requests.json> [--stackstorm]

`requests.json` is a list of `{"method", "url", "headers", "body"}`. Prints
one JSON line: `{"validated": N, "failures": [...]}`; exits 1 when anything
failed or nothing was checked.

With `--stackstorm` the requests were sent to a server laid out as
StackStorm is behind its nginx (`/api/v1/...`, `/auth/v1/...`,
`/stream/v1/stream`) and are held to StackStorm's API alone: the document
without Stormdesk's additions (operations tagged `stormdesk`, parameters and
properties marked `x-stormdesk`), and strictly: a query parameter or a body
field the operation does not declare is a failure too (StackStorm would
ignore it, so the console would silently get something else).
"""

import json
import re
import sys

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest

# Headers the browser adds itself; the rest is what the console chose to send.
SKIP = {"host", "content-length", "connection", "user-agent", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "referer", "origin"}
METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}
# StackStorm's credentials in the query (securitySchemes), allowed everywhere.
CREDENTIAL_PARAMS = {"x-auth-token", "st2-api-key"}


def stackstorm_only(doc):
    """The document without Stormdesk's additions; walks with a stack, not recursion."""
    for path in list(doc["paths"]):
        item = doc["paths"][path]
        for method in [m for m in item if m in METHODS]:
            if "stormdesk" in item[method].get("tags", []):
                del item[method]
        if not any(m in item for m in METHODS):
            del doc["paths"][path]
    dropped_params = {
        "#/components/parameters/" + name
        for name, p in doc.get("components", {}).get("parameters", {}).items()
        if p.get("x-stormdesk")
    }
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("parameters"), list):
            node["parameters"] = [
                p for p in node["parameters"]
                if not (isinstance(p, dict) and (p.get("x-stormdesk") or p.get("$ref") in dropped_params))
            ]
        if isinstance(node.get("properties"), dict):
            for name in [n for n, s in node["properties"].items() if isinstance(s, dict) and s.get("x-stormdesk")]:
                del node["properties"][name]
        stack.extend(node.values())
    return doc


def stackstorm_path(url):
    """StackStorm's nginx layout mapped onto the document's paths."""
    path = requests.utils.urlparse(url).path
    if path.startswith("/api/v1"):
        return "/v1" + path[len("/api/v1"):]
    if path == "/stream/v1/stream":
        return "/v1/stream"
    if path.startswith("/auth/v1"):
        return path
    return None


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def body_fields(doc, schema):
    """Every property a body schema declares (through `$ref` and `allOf`); None when it declares none."""
    fields = set()
    declared = False
    stack = [schema]
    while stack:
        s = resolve(doc, stack.pop())
        if not isinstance(s, dict):
            continue
        if "properties" in s:
            declared = True
            fields.update(s["properties"])
        stack.extend(s.get("allOf", []))
    return fields if declared else None


def find_operation(doc, method, path):
    """The operation a path and method reach: literal segments win over templates."""
    candidates = []
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            candidates.append((template.count("{"), template, item))
    if not candidates:
        return None, None, None
    _, template, item = min(candidates)
    return template, item, item[method]


def strict_failures(doc, r, path):
    """What StackStorm's API does not declare for this request: the route, query parameters, body fields."""
    method = r["method"].lower()
    template, item, op = find_operation(doc, method, path)
    if op is None:
        return ["%s %s: StackStorm's API has no such route" % (r["method"], r["url"])]
    failures = []
    declared = set(CREDENTIAL_PARAMS)
    for p in item.get("parameters", []) + op.get("parameters", []):
        p = resolve(doc, p)
        if p.get("in") == "query":
            declared.add(p["name"])
    query = requests.utils.urlparse(r["url"]).query
    for name in {kv.split("=", 1)[0] for kv in query.split("&") if kv}:
        name = requests.utils.unquote(name)
        if name not in declared:
            failures.append("%s %s: %s takes no query parameter %r" % (r["method"], r["url"], template, name))
    if r.get("body"):
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        fields = body_fields(doc, schema) if schema else None
        try:
            body = json.loads(r["body"])
        except ValueError:
            body = None
        if isinstance(body, dict) and fields is not None:
            for name in sorted(set(body) - fields):
                failures.append("%s %s: %s's body has no field %r" % (r["method"], r["url"], template, name))
    return failures


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    stackstorm = "--stackstorm" in sys.argv[1:]
    spec_path, recorded_path = args[:2]
    with open(spec_path) as f:
        doc = yaml.safe_load(f)
    if stackstorm:
        doc = stackstorm_only(doc)
    spec = OpenAPI.from_dict(doc)
    with open(recorded_path) as f:
        recorded = json.load(f)
    validated = 0
    failures = []
    for r in recorded:
        url = r["url"]
        if stackstorm:
            path = stackstorm_path(url)
            if path is None:
                failures.append("%s %s: not a StackStorm URL (/api/v1, /auth/v1, /stream/v1)" % (r["method"], url))
                continue
            found = strict_failures(doc, r, path)
            if found:
                failures.extend(found)
                continue
            parsed = requests.utils.urlparse(url)
            url = parsed._replace(path=path).geturl()
        headers = {k: v for k, v in r["headers"].items() if k.lower() not in SKIP}
        prepared = requests.Request(r["method"], url, headers=headers, data=r.get("body")).prepare()
        try:
            spec.validate_request(RequestsOpenAPIRequest(prepared))
            validated += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            detail = getattr(e, "__cause__", None) or e
            failures.append("%s %s: %s: %s" % (r["method"], url, type(e).__name__, detail))
    print(json.dumps({"validated": validated, "failures": failures}))
    return 1 if failures or validated == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
