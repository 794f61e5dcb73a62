#!/usr/bin/python3
"""Summarizes a GPU benchmark run of scripts/device/run_cuda.sh (its bench.tar.gz, unpacked) into one JSON
file and a Markdown table: kiln's GPU compute throughput per model, precision and batch beside PyTorch's
CUDA-graph figure from the same device call (../shared/peers/torch_gpu_baseline.py), plus build times.

  /usr/bin/python3 bench/cuda_report.py RESULTS_DIR --out bench/results/cuda_vs_torch_DATE [--command "..."]

Compute throughput = batch / median GPU compute time of one run (CUDA events around the CUDA-graph replay),
which is what PyTorch's figure measures (median of graph replays); end-to-end figures (with H2D/D2H and the
host staging copy) are kept in the JSON too."""
import argparse
import glob
import json
import os
import re
import subprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="scripts/device/run_cuda.sh bench")
    ap.add_argument("--opt-batch", type=int, default=32, help="the profile's opt batch the engines were tuned at "
                    "(run_cuda.sh's BENCH_OPT)")
    args = ap.parse_args()
    torch = {}
    tpath = os.path.join(args.results, "torch_baseline.json")
    if os.path.exists(tpath):
        for r in json.load(open(tpath)):
            torch[(r["model"], r["prec"], r["bs"])] = r
    machine = open(os.path.join(args.results, "machine.txt")).read().strip().splitlines()[-1]
    rows, builds = [], {}
    for path in sorted(glob.glob(os.path.join(args.results, "bench_*.json"))):
        b = json.load(open(path))
        model, prec, variant = re.match(r"bench_(.+?)_(fp16|fp32|tf32|int8)(_latency)?\.json",
                                        os.path.basename(path)).groups()
        variant = variant or ""
        log = open(os.path.join(args.results, f"build_{model}_{prec}{variant}.log")).read()
        m = re.search(r"([0-9.]+) s wall", log)
        builds[f"{model}_{prec}{variant}"] = float(m.group(1)) if m else None
        if variant:  # the latency engine: tactics timed at batch 1
            prec += " (opt batch 1)"
        for r in b["results"]:
            t = torch.get((model, prec, r["batch"]))
            g = r.get("gpu", {})
            rows.append({
                "model": model, "precision": prec, "batch": r["batch"],
                "kiln_compute_img_s": round(g.get("compute_throughput", 0), 1),
                "kiln_compute_ms": round(g.get("compute_ms", 0), 4),
                "kiln_end_to_end_img_s": round(r["throughput"], 1),
                "kiln_end_to_end_median_ms": round(r["latency_ms"]["median"], 4),
                "h2d_ms": round(g.get("h2d_ms", 0), 4), "d2h_ms": round(g.get("d2h_ms", 0), 4),
                "torch_img_s": t["img_s"] if t else None, "torch_ms": t["ms"] if t else None,
                "ratio_compute_vs_torch": round(g.get("compute_throughput", 0) / t["img_s"], 3) if t else None,
            })
    # INT8 beside kiln's own FP16 at the same batch (the bar: 1.5x at batch 128).
    fp16 = {(r["model"], r["batch"]): r["kiln_compute_img_s"] for r in rows if r["precision"] == "fp16"}
    for r in rows:
        if r["precision"] == "int8" and fp16.get((r["model"], r["batch"])):
            r["ratio_int8_vs_kiln_fp16"] = round(r["kiln_compute_img_s"] / fp16[(r["model"], r["batch"])], 3)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"device": machine, "date": b["date"][:10] if rows else "", "commit": commit, "command": args.command,
           "peer": "PyTorch 2.11 (channels-last, cuDNN autotune, CUDA-graph replay), same device call",
           "build_seconds": builds, "results": rows}
    json.dump(out, open(args.out + ".json", "w"), indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(f"# kiln GPU engines vs PyTorch, {out['date']}\n\n- device: {machine}\n- command: `{args.command}`\n"
                f"- peer: {out['peer']}\n- kiln: compute = median GPU time of one CUDA-graph replay (CUDA events); "
                "end-to-end adds H2D of the input from pinned memory, D2H of the output and the host staging copy\n\n")
        f.write("| model | precision | batch | kiln img/s (compute) | PyTorch img/s | kiln / PyTorch | kiln ms | "
                "PyTorch ms | kiln end-to-end img/s | H2D ms |\n|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['model']} | {r['precision']} | {r['batch']} | {r['kiln_compute_img_s']:,} | "
                    f"{r['torch_img_s'] or '-'} | {r['ratio_compute_vs_torch'] or '-'} | {r['kiln_compute_ms']} | "
                    f"{r['torch_ms'] or '-'} | {r['kiln_end_to_end_img_s']:,} | {r['h2d_ms']} |\n")
        for r in rows:
            if "ratio_int8_vs_kiln_fp16" in r:
                f.write(f"\nINT8 / kiln FP16, {r['model']} batch {r['batch']}: {r['ratio_int8_vs_kiln_fp16']}x")
        f.write("\n\nTensorRT's published ResNet-50 INT8 figure (MLPerf v4.0 offline, one H100): 88,714 img/s.\n")
        f.write(f"\nBuild times (kiln build --device cuda, tactics timed at batch {args.opt_batch}, "
                "fresh timing cache): " +
                ", ".join(f"{k} {v:.1f} s" for k, v in builds.items() if v) + "\n")
    print(open(args.out + ".md").read())


if __name__ == "__main__":
    main()
