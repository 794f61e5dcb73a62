#!/usr/bin/python3
"""Aggregates the raw runs of bench/cpu_vs_ort.sh into OUT.json and OUT.md (standard library only).

  python3 bench/cpu_vs_ort_report.py --work DIR --out bench/results/cpu_vs_ort_<date> --command "..." \
      --models "resnet50 mobilenet_v2" --precisions "fp32 int8" --rounds 3 --duration 3 --threads 2 --batches 1,16

DIR holds what the shell script wrote:
  raw/r<ROUND>_<MODEL>_<PRECISION>_<kiln|ort>.json   `kiln bench --json` / bench/ort_runner.js output
  peak_measured.json, peak_recorded.json (+ .source) bench/peak_gemm output now / a recorded result file
  loadavg_start                                     /proc/loadavg before the runs
  builds.tsv                                        model, precision, seconds, engine path, ORT model path
  errors.tsv                                        model, precision, round, stage, message
  order.tsv                                         round, model, precision, first side (kiln or ort)
Per model, precision and batch it reports the median over rounds of each side's throughput (samples/s) and
median latency, the ratios kiln/ORT of those medians, the per-round throughput ratios (each round runs the
two back to back, so they share the machine's state), and GFLOP/s achieved as a share of the measured peak.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess

# Operations per image, counting a multiply-add as 2 (torchvision's reported GMACs × 2, 224×224 input).
GFLOP_PER_IMAGE = {"resnet50": 8.2, "mobilenet_v2": 0.6, "efficientnet_b0": 0.8}


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def machine_info():
    info = {"cpu": "unknown", "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu"] = fields.get("Model name", "unknown")
        for key, name in (("CPU family", "cpu_family"), ("Model", "cpu_model"), ("Hypervisor vendor", "hypervisor"),
                          ("L2 cache", "l2"), ("L3 cache", "l3")):
            if key in fields:
                info[name] = fields[key]
        flags = fields.get("Flags", "").split()
        info["isa"] = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")
                       if f in flags]
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        info["memory_gib"] = round(kb / 2**20, 1)
    except (OSError, AttributeError):
        pass
    info["kernel"] = platform.release()
    return info


def git_info():
    def git(*args):
        r = subprocess.run(["git", *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    dirty = git("status", "--porcelain", "--", "src", "tools", "include", "CMakeLists.txt")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes_in_src_tools": bool(dirty)}


def median(values):
    return statistics.median(values) if values else None


def rnd(x, digits=3):
    return None if x is None else round(x, digits)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True, help="output path without extension (.json and .md are written)")
    p.add_argument("--command", default="")
    p.add_argument("--models", required=True)
    p.add_argument("--precisions", required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batches", required=True)
    p.add_argument("--iterations-min", type=int, default=10)
    p.add_argument("--calibration", default="")
    p.add_argument("--kiln", default="build/tools/kiln")
    p.add_argument("--ort-int8", default="", help="ORT's INT8 model pattern when not kiln's --export-qdq output")
    a = p.parse_args()

    models, precisions = a.models.split(), a.precisions.split()
    batches = [int(b) for b in a.batches.split(",")]
    # The peak: the higher of the figure measured at the start of this run and the recorded one (a busy machine
    # can only make a measurement come out low).
    peaks = {}
    for kind in ("measured", "recorded"):
        path = os.path.join(a.work, f"peak_{kind}.json")
        if os.path.exists(path):
            src = os.path.join(a.work, f"peak_{kind}.source")
            peaks[kind] = {**read_json(path), "source": open(src).read().strip() if os.path.exists(src) else kind}
    peak = {"threads": next((v.get("threads") for v in peaks.values()), None)}
    for key in ("fp32_gflops", "int8_gops"):
        best = max(peaks, key=lambda k: peaks[k].get(key) or 0, default=None)
        peak[key] = peaks[best].get(key) if best else None
        peak[key + "_from"] = best
    peak["candidates"] = {k: {f: v.get(f) for f in ("fp32_gflops", "int8_gops", "threads", "source", "date",
                                                      "fp32_best", "int8_best", "onednn", "onednn_isa") if f in v}
                          for k, v in peaks.items()}
    fp32_peak, int8_peak = peak["fp32_gflops"], peak["int8_gops"]

    builds = {(r[0], r[1]): {"build_seconds": float(r[2]), "engine": r[3], "ort_model": r[4]}
              for r in read_tsv(os.path.join(a.work, "builds.tsv"))}
    errors = [{"model": r[0], "precision": r[1], "round": r[2], "stage": r[3], "message": r[4] if len(r) > 4 else ""}
              for r in read_tsv(os.path.join(a.work, "errors.tsv"))]
    order = {(int(r[0]), r[1], r[2]): r[3] for r in read_tsv(os.path.join(a.work, "order.tsv"))}

    # raw[(model, precision, side)][round] = parsed JSON
    raw = {}
    for path in sorted(glob.glob(os.path.join(a.work, "raw", "r*_*.json"))):
        m = re.match(r"r(\d+)_(.+)_(fp32|fp16|int8)_(kiln|ort)\.json$", os.path.basename(path))
        if not m:
            continue
        try:
            raw.setdefault((m.group(2), m.group(3), m.group(4)), {})[int(m.group(1))] = read_json(path)
        except (OSError, ValueError) as e:
            errors.append({"model": m.group(2), "precision": m.group(3), "round": m.group(1), "stage": m.group(4),
                           "message": f"unreadable result {path}: {e}"})

    def side_stats(model, precision, side, batch):
        rounds = raw.get((model, precision, side), {})
        thr, lat, per_round = [], [], {}
        for r in sorted(rounds):
            for res in rounds[r].get("results", []):
                if res.get("batch") == batch:
                    thr.append(res["throughput"])
                    lat.append(res["latency_ms"]["median"])
                    per_round[r] = res
        if not thr:
            return None, per_round
        return {"throughput_median": rnd(median(thr), 2), "latency_median_ms": rnd(median(lat)),
                "throughput_rounds": [rnd(x, 2) for x in thr], "latency_median_ms_rounds": [rnd(x) for x in lat],
                "runs_rounds": [per_round[r]["runs"] for r in sorted(per_round)]}, per_round

    first = lambda d: next(iter(d.values())) if d else {}
    # Which kernels ORT ran, per model and precision (bench/ort_runner.js --op-counts, first round), and for
    # INT8 how many convolutions became integer kernels.
    ort_ops = {}
    for (model, precision, side), rounds in raw.items():
        ops = next((r["executed_ops"] for _, r in sorted(rounds.items()) if "executed_ops" in r), None)
        if side == "ort" and ops is not None:
            entry = {"executed_ops": ops}
            if precision == "int8":
                integer = sum(n for op, n in ops.items() if op in ("QLinearConv", "ConvInteger", "QLinearMatMul"))
                floating = sum(n for op, n in ops.items() if op in ("Conv", "FusedConv", "NhwcFusedConv"))
                entry["convolutions_integer"], entry["convolutions_float"] = integer, floating
            ort_ops[f"{model} {precision}"] = entry
    rows = []
    kiln_backend, ort_backend = None, None
    for model in models:
        gflop = GFLOP_PER_IMAGE.get(model)
        for precision in precisions:
            kiln_any = first(raw.get((model, precision, "kiln"), {}))
            ort_any = first(raw.get((model, precision, "ort"), {}))
            kiln_backend = kiln_backend or kiln_any.get("backend")
            ort_backend = ort_backend or ort_any.get("backend")
            # INT8 work is measured against the INT8 peak; FP32 and FP16 (no FP16 arithmetic on this CPU's
            # vector units: an FP16 engine computes in FP32) against the FP32 peak. ORT runs the FP32 model for
            # fp32/fp16 and kiln's exported Q/DQ model for int8.
            kiln_peak = int8_peak if precision == "int8" else fp32_peak
            ort_peak = int8_peak if precision == "int8" else fp32_peak
            for batch in batches:
                k, k_rounds = side_stats(model, precision, "kiln", batch)
                o, o_rounds = side_stats(model, precision, "ort", batch)
                row = {"model": model, "precision": precision, "batch": batch,
                       "ort_model": os.path.basename(builds.get((model, precision), {}).get("ort_model", "")) or None,
                       "kiln": k, "ort": o}
                for side, stats, pk in (("kiln", k, kiln_peak), ("ort", o, ort_peak)):
                    if stats and gflop:
                        achieved = gflop * stats["throughput_median"]
                        stats["gflops_achieved"] = rnd(achieved, 1)
                        stats["share_of_peak"] = rnd(achieved / pk, 4) if pk else None
                if k and o:
                    row["throughput_ratio_kiln_over_ort"] = rnd(k["throughput_median"] / o["throughput_median"], 4)
                    row["latency_ratio_kiln_over_ort"] = rnd(k["latency_median_ms"] / o["latency_median_ms"], 4)
                    per_round = [rnd(k_rounds[r]["throughput"] / o_rounds[r]["throughput"], 4)
                                 for r in sorted(k_rounds) if r in o_rounds]
                    row["throughput_ratio_rounds"] = per_round
                    row["throughput_ratio_median_of_rounds"] = rnd(median(per_round), 4)
                    row["first_side_rounds"] = [order.get((r, model, precision)) for r in sorted(k_rounds)
                                                if r in o_rounds]
                rows.append(row)

    date = datetime.datetime.now(datetime.timezone.utc)
    load = {}
    for name, path in (("start", os.path.join(a.work, "loadavg_start")), ("end", "/proc/loadavg")):
        try:
            with open(path) as f:
                load[name] = [float(x) for x in f.read().split()[:3]]
        except (OSError, ValueError):
            pass
    result = {
        "command": a.command,
        "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), "loadavg_1_5_15min": load},
        "kiln": {"binary": a.kiln, "backend": kiln_backend, **git_info()},
        "ort": {"backend": ort_backend, "runner": "bench/ort_runner.js (session options of ../shared/peers/ort_bench.js)",
                "int8_model": a.ort_int8 or "kiln build --precision int8 --export-qdq (the same calibration as kiln's "
                                            "INT8 engine)",
                "fp16_model": "the FP32 ONNX model (ONNX Runtime has no fast FP16 CPU path)",
                "kernels_run": ort_ops},
        "settings": {"models": models, "precisions": precisions, "batches": batches, "rounds": a.rounds,
                     "duration_s_per_batch": a.duration, "iterations_min": a.iterations_min, "threads": a.threads,
                     "calibration": a.calibration,
                     "alternation": "every round runs kiln and ORT back to back per model and precision; the side "
                                    "that goes first alternates between rounds"},
        "gflop_per_image": GFLOP_PER_IMAGE,
        "gflop_note": "operations per 224x224 image, a multiply-add counted as 2 (ResNet-50 4.1 GMAC = 8.2 GFLOP); "
                      "INT8 counts the same operations (GOP)",
        "peak": peak,
        "statistic": "per round: throughput = batch x runs / wall time of the timed runs, latency = median run; "
                     "reported: median over rounds; ratios kiln/ORT (throughput ratio > 1 and latency ratio < 1: "
                     "kiln faster); share_of_peak = gflop_per_image x throughput / peak",
        "builds": [{"model": m, "precision": pr, **v} for (m, pr), v in sorted(builds.items())],
        "results": rows,
        "errors": errors,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    def fmt(x, spec):
        return "—" if x is None else format(x, spec)

    def pct(stats):
        return "—" if not stats or stats.get("share_of_peak") is None else f"{100 * stats['share_of_peak']:.1f}%"

    md = [f"# kiln vs ONNX Runtime on the CPU, {date:%Y-%m-%d}", "",
          f"- machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; {a.threads} threads for both",
          f"- kiln: `{a.kiln}` ({kiln_backend or '?'}), commit {result['kiln']['commit'] or '?'}"
          + (" with uncommitted changes in src/tools" if result["kiln"]["uncommitted_changes_in_src_tools"] else ""),
          f"- peer: {ort_backend or 'onnxruntime'}; INT8 runs kiln's exported Q/DQ model, FP32/FP16 the FP32 model",
          f"- {a.rounds} round{'s' if a.rounds != 1 else ''} × {a.duration} s per batch size, alternating kiln and ORT; medians over rounds",
          f"- peak ({peak.get('threads') or '?'} threads, oneDNN GEMM, {peak['fp32_gflops_from'] or '—'}): "
          f"{fmt(fp32_peak, '.0f')} GFLOP/s FP32, {fmt(int8_peak, '.0f')} GOP/s INT8; model cost: "
          + ", ".join(f"{m} {GFLOP_PER_IMAGE[m]} GFLOP" for m in models if m in GFLOP_PER_IMAGE),
          f"- command: `{a.command}`", "",
          "| model | precision | batch | kiln img/s | ORT img/s | throughput kiln/ORT | latency kiln/ORT "
          "| kiln ms | ORT ms | kiln % of peak | ORT % of peak |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        k, o = r["kiln"] or {}, r["ort"] or {}
        md.append(f"| {r['model']} | {r['precision']} | {r['batch']} | {fmt(k.get('throughput_median'), '.1f')} "
                  f"| {fmt(o.get('throughput_median'), '.1f')} | {fmt(r.get('throughput_ratio_kiln_over_ort'), '.2f')} "
                  f"| {fmt(r.get('latency_ratio_kiln_over_ort'), '.2f')} | {fmt(k.get('latency_median_ms'), '.2f')} "
                  f"| {fmt(o.get('latency_median_ms'), '.2f')} | {pct(r['kiln'])} | {pct(r['ort'])} |")
    md += ["", "Throughput kiln/ORT above 1 (latency below 1): kiln is faster. Latencies are the median time of one run "
           "of the whole batch."]
    for key, entry in sorted(ort_ops.items()):
        if "convolutions_integer" in entry and entry["convolutions_float"] > 0:
            md += ["", f"Note: ONNX Runtime ran {key} with {entry['convolutions_integer']} integer convolutions "
                   f"(QLinearConv) and {entry['convolutions_float']} float ones (Conv/FusedConv): it did not "
                   "fuse all of the Q/DQ model, so its INT8 figure there understates ORT's INT8 kernels. Kernels: "
                   + ", ".join(f"{op} {n}" for op, n in entry["executed_ops"].items()) + "."]
    if errors:
        md += ["", "Errors:", ""] + [f"- {e['model']} {e['precision']} {e['stage']}"
                                     + (f" (round {e['round']})" if e["round"] != "0" else "") + f": {e['message']}"
                                     for e in errors]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"wrote {a.out}.json and {a.out}.md")
    print("\n".join(line for line in md if line.startswith("|")))


if __name__ == "__main__":
    main()
