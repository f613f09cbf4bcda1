#!/usr/bin/env python3
"""Summarizes Google Benchmark JSON files of the GPU benchmarks (scripts/device-check).

For every benchmark family it prints each run's time and, where the same binary measured a peer
on the same shape (cuDNN, cuBLAS, cudaMemcpy, the unfused VAE loss), the speed ratio
peer_time / zspace_time (> 1: zspace is faster). Runs are grouped by their label with the
implementation part removed: "enc1 fwd zs_v2" and "enc1 fwd cudnn_fma ..." share "enc1 fwd".

  python3 bench/summarize_gpu_bench.py build/device-check/bench_*.json
"""
import json
import re
import sys

# Words that name the implementation, not the shape (in a label, or a name's last component).
PEER = re.compile(r"\b(cudnn\w*|cuBLAS|cudaMemcpyAsync|v1 unfused)\b.*$")
OURS = re.compile(r"\b(zs_v\d+|v\d+( fused| split \d+)?)\b.*$")
CPU = re.compile(r"\b(cpu|CPU twin)\b")


def describe(run):
    """(shape key, implementation text) of a run."""
    parts = re.sub(r"/(manual_time|real_time)$", "", run["name"]).split("/")
    if len(parts) > 1 and re.fullmatch(r"zs_v\d+|cudnn\w*|cpu", parts[-1]):  # bench_cuda_conv's names
        return "/".join(parts[:-1]), parts[-1] + " " + run.get("label", "")
    label = run.get("label", run["name"])
    return OURS.sub("", PEER.sub("", CPU.sub("", label))).strip(), label


def main(paths):
    for path in paths:
        try:
            runs = json.load(open(path))["benchmarks"]
        except (OSError, ValueError, KeyError) as err:
            print(f"{path}: unreadable ({err})")
            continue
        print(f"== {path}")
        groups = {}
        for r in runs:
            if r.get("error_occurred"):
                print(f"  {r['name']}: skipped ({r.get('error_message', '')})")
                continue
            key, impl = describe(r)
            groups.setdefault(key, []).append((impl, r["real_time"], r.get("time_unit", "ns")))
        for key, members in groups.items():
            peers = [m for m in members if PEER.search(m[0])]
            best_peer = min(peers, key=lambda m: m[1]) if peers else None
            for impl, t, unit in members:
                line = f"  {key:28s} {impl:40s} {t:12.2f} {unit}"
                if best_peer and not PEER.search(impl) and not CPU.search(impl):
                    line += f"  {best_peer[1] / t:5.2f}x the fastest peer"
                print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
