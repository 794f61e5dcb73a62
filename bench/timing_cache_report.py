#!/usr/bin/python3
"""Per kiln.QConv / kiln.FusedConv node of a kiln GPU timing cache (`--timing-cache`, e.g. the one
scripts/device/run_cuda.sh bench returns in bench.tar.gz): the fastest library tactic (cuDNN / cuBLASLt) beside
kiln's own kernels' tactics, in ms at the build's opt shape, as a Markdown table.

  /usr/bin/python3 bench/timing_cache_report.py results/timing_cache.json [--op QConv]"""
import argparse
import json
import re


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--op", default="QConv", help="QConv or FusedConv")
    args = ap.parse_args()
    cache = json.load(open(args.cache))
    print("| machine | X | W | strides | residual | activation | fastest library tactic (ms) | kiln's own (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for machine, entries in cache["machines"].items():
        gpu = machine.split(" |")[0]
        for key, times in sorted(entries.items()):
            if not key.startswith(f"kiln.{args.op}("):
                continue
            inputs = [s for s in key.split("(", 1)[1].split(")", 1)[0].split(",") if s]
            x, w = inputs[0], [s for s in inputs if s.count("x") == 3][1]
            # A residual input Z: kiln.QConv's 10th input, kiln.FusedConv's 4th.
            residual = len(inputs) > (9 if args.op == "QConv" else 3)
            act = re.search(r"activation=(\w+)", key)
            strides = re.search(r"strides=\[([\d,]+)\]", key)
            library = [(t, n) for n, t in times.items() if not n.startswith("cuda:")]
            own = ", ".join(f"{n} {t:.4f}" for n, t in sorted(times.items()) if n.startswith("cuda:"))
            best = f"{min(library)[0]:.4f} ({min(library)[1][:40]})" if library else "-"
            print(f"| {gpu} | {x} | {w} | {strides.group(1) if strides else '-'} | {'yes' if residual else ''} | {act.group(1) if act else ''} | {best} | {own or '-'} |")


if __name__ == "__main__":
    main()
