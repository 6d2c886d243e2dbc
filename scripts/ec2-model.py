#!/usr/bin/env python3
"""Extracts the Traffic Mirroring part of botocore's EC2 service model.

The EC2 Query transport (control/src/query/) takes every wire name from this extract: the query
keys a request may carry, the XML element names of a reply, the types of the values and the
paginators. It is botocore's own model, so the appliance answers what the stock clients send
instead of a hand-written guess of it. The model is Apache-2.0 data from botocore.

    scripts/ec2-model.py            # writes control/src/query/ec2-model.json
    scripts/ec2-model.py --check    # exits 1 when the committed extract differs from botocore's

It runs under the virtual environment that scripts/setup.sh makes (out/venv/bin/python).
"""
import argparse
import json
import pathlib
import sys

import botocore
import botocore.loaders

API_VERSION = "2016-11-15"
OUT = pathlib.Path(__file__).resolve().parent.parent / "control/src/query/ec2-model.json"


def strip(node):
    # Documentation is most of the model's size and none of its meaning on the wire.
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "documentation"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def referenced(shape):
    refs = [m["shape"] for m in shape.get("members", {}).values()]
    refs += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
    return refs


def extract():
    loader = botocore.loaders.Loader()
    service = loader.load_service_model("ec2", "service-2", API_VERSION)
    paginators = loader.load_service_model("ec2", "paginators-1", API_VERSION)["pagination"]

    operations = {n: op for n, op in service["operations"].items() if "TrafficMirror" in n}
    shapes, todo = {}, []
    for op in operations.values():
        todo += [op[io]["shape"] for io in ("input", "output") if io in op]
    while todo:
        name = todo.pop()
        if name not in shapes:
            shapes[name] = service["shapes"][name]
            todo += referenced(shapes[name])

    return strip({
        "source": f"botocore {botocore.__version__}, data/ec2/{API_VERSION}/service-2.json and paginators-1.json",
        "license": "Apache-2.0 (botocore's service model)",
        "botocore_version": botocore.__version__,
        "metadata": {k: service["metadata"][k] for k in ("apiVersion", "protocol", "xmlNamespace", "signatureVersion", "endpointPrefix")},
        "operations": operations,
        "shapes": shapes,
        "paginators": {n: p for n, p in paginators.items() if n in operations},
    })


def render(model):
    return json.dumps(model, indent=1, sort_keys=True) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed extract instead of writing it")
    args = parser.parse_args()
    text = render(extract())
    if args.check:
        committed = OUT.read_text() if OUT.exists() else ""
        if committed != text:
            print(f"{OUT} differs from what botocore {botocore.__version__} gives; run scripts/ec2-model.py", file=sys.stderr)
            return 1
        print(f"{OUT.name} matches botocore {botocore.__version__}")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(json.loads(text)['operations'])} operations, botocore {botocore.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
