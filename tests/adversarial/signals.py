#!/usr/bin/env python3
"""Signals at random moments (issue 16): runs of train_mnist into one --out, each killed by SIGINT,
SIGTERM or SIGKILL after a random delay. After every kill, --out must hold only complete files, all of
one run: either exactly the files before the kill, or only files of the killed run. SIGINT/SIGTERM
must leave no temporary file and no lock; SIGKILL's leftovers must be gone after the next run.

usage: signals.py --train-mnist build/release/tools/train_mnist [--trials 8] [--seed 1]"""
import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402


def complete(path):
    """'' when the file is complete for its type, else what is wrong."""
    data = open(path, "rb").read()
    name = os.path.basename(path)
    try:
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".csv"):
            if not data.endswith(b"\n"):
                return "csv without its final newline"
        elif name.endswith(".png"):
            if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
                return "png without signature or IEND"
        elif name.endswith(".npy"):
            hlen = struct.unpack("<H", data[8:10])[0]
            header = data[10:10 + hlen].decode("latin1")
            shape = eval(header.split("'shape':")[1].split(")")[0] + ")")  # numpy's own literal syntax
            item = {"<f4": 4, "<i4": 4, "<i8": 8, "|u1": 1}[header.split("'descr': '")[1].split("'")[0]]
            count = 1
            for d in shape:
                count *= d
            if len(data) != 10 + hlen + count * item:
                return f"npy of {len(data)} bytes, header wants {10 + hlen + count * item}"
        elif name.endswith(".safetensors"):
            n = struct.unpack("<Q", data[:8])[0]
            header = json.loads(data[8:8 + n])
            end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
            if 8 + n + end != len(data):
                return "safetensors shorter or longer than its header says"
    except Exception as e:  # noqa: BLE001 - any parse failure means incomplete
        return f"unparsable: {e}"
    return ""


def visible(out):
    return {f: hashlib.sha256(open(os.path.join(out, f), "rb").read()).hexdigest()
            for f in os.listdir(out) if not f.startswith(".") and os.path.isfile(os.path.join(out, f))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-mnist", required=True)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="zs-signals-")
    data, out = os.path.join(work, "data"), os.path.join(work, "out")
    os.makedirs(data)
    for name, payload in (("train-images-idx3-ubyte", hostile.idx_images(64, seed=1)),
                          ("train-labels-idx1-ubyte", hostile.idx_labels(64, seed=1)),
                          ("t10k-images-idx3-ubyte", hostile.idx_images(32, seed=2)),
                          ("t10k-labels-idx1-ubyte", hostile.idx_labels(32, seed=2))):
        open(os.path.join(data, name + ".gz"), "wb").write(gzip.compress(payload, mtime=0))
    binary = os.path.abspath(args.train_mnist)

    def command(seed, epochs):
        return [binary, "ae", "--data", data, "--out", out, "--device", "cpu", "--threads", "2", "--quiet",
                "--epochs", str(epochs), "--batch", "8", "--z-dim", "2", "--seed", str(seed)]

    failures = []
    first = subprocess.run(command(1000, 1), stderr=subprocess.PIPE)
    if first.returncode != 0:
        print("signals: the first run failed:", first.stderr.decode())
        return 1
    for trial in range(args.trials):
        before = visible(out)
        sig = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL][trial % 3]
        delay = rng.uniform(0.05, 4.0)
        p = subprocess.Popen(command(trial + 1, 500), stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        err = err.decode("utf-8", "replace").strip()
        label = f"trial {trial}: {signal.Signals(sig).name} after {delay:.2f}s (exit {p.returncode})"
        after = visible(out)
        for f in after:
            why = complete(os.path.join(out, f))
            if why:
                failures.append(f"{label}: {f} is incomplete: {why}")
        if after != before:
            mixed = [f for f in after if before.get(f) == after[f]]
            if mixed:
                failures.append(f"{label}: files of two runs side by side; unchanged from before: {mixed}")
        hidden = [f for f in os.listdir(out) if f.startswith(".") and (".tmp-" in f or f == ".train_mnist.lock")]
        if sig != signal.SIGKILL:
            if hidden:
                failures.append(f"{label}: left {hidden}")
            if p.returncode not in (128 + sig, -sig):
                failures.append(f"{label}: exit {p.returncode}, expected {128 + sig} or death by the signal")
            if p.returncode == 128 + sig and "interrupted" not in err:
                failures.append(f"{label}: no 'interrupted' message: {err}")
        print(label, "->", sorted(after) if after != before else "unchanged", flush=True)
    # A final complete run removes whatever SIGKILL left and leaves only its own outputs.
    last = subprocess.run(command(99, 1), stderr=subprocess.PIPE)
    leftovers = [f for f in os.listdir(out) if f.startswith(".") and f != ".train_mnist-outputs"]
    if last.returncode != 0:
        failures.append("final run failed: " + last.stderr.decode())
    if leftovers:
        failures.append(f"after the final complete run: {leftovers} remain")
    shutil.rmtree(work, ignore_errors=True)
    print(f"signals: {args.trials} interrupted runs, {len(failures)} problems")
    for f in failures:
        print("  FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
