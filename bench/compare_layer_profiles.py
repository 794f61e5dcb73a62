#!/usr/bin/python3
"""kiln's per-layer profile (`kiln bench ENGINE --batch B --profile` output) beside ONNX Runtime's
(bench/ort_layer_profile.js output), matched by the node-name prefix both keep from the model (for torchvision
models: /features/features.<i>[/conv/conv.<j>]; other nodes by their first path element). Prints each matched
layer's kiln and ORT milliseconds, sorted by how much more kiln takes.

  /usr/bin/python3 bench/compare_layer_profiles.py KILN_PROFILE.log ORT_PROFILE.txt [--top 15]"""
import argparse
import collections
import re


def layer_key(name):
    m = re.match(r"/features/features\.(\d+)(?:/conv/conv\.(\d+))?", name)
    if not m:
        return name.split("/")[1] if name.startswith("/") else name
    return f"features.{m.group(1)}" + (f" conv.{m.group(2)}" if m.group(2) else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("ort")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    kiln = collections.defaultdict(float)
    in_table = False
    for line in open(args.kiln):
        if line.startswith("per-layer profile"):
            in_table = True
        elif line.startswith("by op type"):
            break
        elif in_table and line.startswith("/"):
            parts = line.split()
            kiln[layer_key(parts[0])] += float(parts[-2])
    ort = collections.defaultdict(float)
    for line in open(args.ort):
        if line.startswith("total"):
            continue
        ms, name, _op = line.rstrip("\n").split("\t")
        ort[layer_key(name)] += float(ms)
    print(f"kiln total {sum(kiln.values()):.2f} ms, ORT total {sum(ort.values()):.2f} ms")
    rows = sorted(set(kiln) | set(ort), key=lambda k: -(kiln.get(k, 0) - ort.get(k, 0)))
    print("layer | kiln ms | ORT ms | kiln - ORT")
    for k in rows[: args.top] + (["..."] if len(rows) > 2 * args.top else []) + rows[-args.top:]:
        if k == "...":
            print("...")
            continue
        print(f"{k} | {kiln.get(k, 0):.3f} | {ort.get(k, 0):.3f} | {kiln.get(k, 0) - ort.get(k, 0):+.3f}")


if __name__ == "__main__":
    main()
