#!/usr/bin/python3
"""Per kiln.QConv / kiln.FusedConv node of a kiln GPU timing cache (`--timing-cache`, e.g. the one
scripts/device/run_cuda.sh bench returns in bench.tar.gz): the fastest library tactic (cuDNN / cuBLASLt) beside
kiln's own kernels' tactics, in ms at the build's opt shape, as a Markdown table; with --before, kiln's own
tactics' times from an earlier cache of the same model beside them (a kernel change measured across two builds).

  /usr/bin/python3 bench/timing_cache_report.py results/timing_cache.json [--op QConv] [--before OLD.json]"""
import argparse
import json
import re


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--op", default="QConv", help="QConv or FusedConv")
    ap.add_argument("--before", help="an earlier timing cache: its times of kiln's own tactics in a column")
    args = ap.parse_args()
    cache = json.load(open(args.cache))
    before = {}
    if args.before:
        for entries in json.load(open(args.before))["machines"].values():
            before.update(entries)
    print("| machine | X | W | strides | residual | activation | fastest library tactic (ms) | kiln's own (ms) |"
          + (" kiln's own before (ms) |" if args.before else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|" if args.before else ""))
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
            row = (f"| {gpu} | {x} | {w} | {strides.group(1) if strides else '-'} | {'yes' if residual else ''} | "
                   f"{act.group(1) if act else ''} | {best} | {own or '-'} |")
            if args.before:
                old = before.get(key, {})
                own_before = ", ".join(f"{n} {t:.4f}" for n, t in sorted(old.items()) if n.startswith("cuda:"))
                row += f" {own_before or '-'} |"
            print(row)


if __name__ == "__main__":
    main()
