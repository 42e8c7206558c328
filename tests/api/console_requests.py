"""The console's side of the contract: every request the console sent to a
remote server (recorded by tests/browser/remote.spec.ts) is validated against
the same OpenAPI document and with the same validator (openapi-core) as the
server's responses in contract.py: paths, methods, parameters, bodies and
credentials as StackStorm's API declares them.

    python console_requests.py <openapi.yaml> <requests.json>

`requests.json` is a list of `{"method", "url", "headers", "body"}`. Prints
one JSON line: `{"validated": N, "failures": [...]}`; exits 1 when anything
failed or nothing was checked.
"""

import json
import sys

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest

# Headers the browser adds itself; the rest is what the console chose to send.
SKIP = {"host", "content-length", "connection", "user-agent", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "referer", "origin"}


def main():
    spec_path, recorded_path = sys.argv[1:3]
    spec = OpenAPI.from_file_path(spec_path)
    with open(recorded_path) as f:
        recorded = json.load(f)
    validated = 0
    failures = []
    for r in recorded:
        headers = {k: v for k, v in r["headers"].items() if k.lower() not in SKIP}
        prepared = requests.Request(r["method"], r["url"], headers=headers, data=r.get("body")).prepare()
        try:
            spec.validate_request(RequestsOpenAPIRequest(prepared))
            validated += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            detail = getattr(e, "__cause__", None) or e
            failures.append("%s %s: %s: %s" % (r["method"], r["url"], type(e).__name__, detail))
    print(json.dumps({"validated": validated, "failures": failures}))
    return 1 if failures or validated == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
