#!/usr/bin/env python3
"""The hostile-input audit of issue 16, run in CI: every generator of hostile.py against every
train_mnist command. Each case must exit 2 with exactly one line on stderr, and leave --out (a folder
holding a previous run's outputs) byte-identical. Prints the count of cases and each failure.

usage: adversarial.py --train-mnist build/release/tools/train_mnist [--work DIR] [--keep]"""
import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

COMMANDS = ["ae", "vae", "kmeans", "elbow", "ae-kmeans"]
FAST = {"ae": ["--epochs", "1", "--batch", "32", "--z-dim", "2"], "vae": ["--epochs", "1", "--batch", "32"],
        "kmeans": ["--k", "3"], "elbow": ["--k-min", "2", "--k-max", "3"],
        "ae-kmeans": ["--epochs", "1", "--batch", "32", "--k", "3"]}
IDX_NAMES = {"train-images": "train-images-idx3-ubyte", "train-labels": "train-labels-idx1-ubyte",
             "test-images": "t10k-images-idx3-ubyte", "test-labels": "t10k-labels-idx1-ubyte"}


def snapshot(folder):
    """{relative path: sha256} of every file under folder, hidden ones included."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                state[os.path.relpath(p, folder)] = hashlib.sha256(fh.read()).hexdigest()
        for d in dirs:
            state[os.path.relpath(os.path.join(root, d), folder) + "/"] = "dir"
    return state


class Audit:
    def __init__(self, binary, work):
        self.binary, self.work = binary, work
        self.cases = self.failures = 0
        self.failed = []

    def run(self, argv, timeout=30):
        try:
            p = subprocess.run([self.binary] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=timeout)
            return p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return "timeout", ""

    def expect_refusal(self, label, argv, out, before):
        self.cases += 1
        rc, err = self.run(argv)
        problems = []
        if rc != 2:
            problems.append(f"exit {rc}")
        if err.count("\n") != 1 or not err.strip():
            problems.append(f"{err.count(chr(10))} lines on stderr")
        after = snapshot(out)
        if after != before:
            changed = sorted(set(after.items()) ^ set(before.items()))
            problems.append("--out changed: " + ", ".join(sorted({c[0] for c in changed}))[:200])
        if problems:
            self.failures += 1
            self.failed.append(f"{label}: {'; '.join(problems)}\n    {' '.join(argv)}\n    stderr: {err.strip()[:300]}")
            return False
        return True


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-mnist", required=True)
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="zs-adversarial-")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    audit = Audit(os.path.abspath(args.train_mnist), work)

    # A good data set: train gzipped, test raw (both spellings in use).
    good = {"train-images": hostile.idx_images(64, seed=1), "train-labels": hostile.idx_labels(64, seed=1),
            "test-images": hostile.idx_images(32, seed=2), "test-labels": hostile.idx_labels(32, seed=2)}
    gz = {"train-images": True, "train-labels": True, "test-images": False, "test-labels": False}

    def make_data(name, replace=None, payload=None, as_gz=None, special=None):
        d = os.path.join(work, "data", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for key, base in IDX_NAMES.items():
            zipped = gz[key] if (key != replace or as_gz is None) else as_gz
            path = os.path.join(d, base + (".gz" if zipped else ""))
            if key == replace and special:
                special(path)
            elif key == replace:
                write(path, payload)
            else:
                write(path, gzip.compress(good[key], mtime=0) if zipped else good[key])
        return d

    data = make_data("good")
    base_out = os.path.join(work, "base-out")
    common = ["--device", "cpu", "--threads", "2", "--quiet", "--seed", "5"]
    rc, err = audit.run(["ae", "--data", data, "--out", base_out] + common + FAST["ae"], timeout=120)
    if rc != 0:
        print("adversarial: the baseline ae run failed:", err)
        return 1
    checkpoint = open(os.path.join(base_out, "model.safetensors"), "rb").read()
    # The victim: an --out holding a complete previous run, which no refused run may touch.
    victim = os.path.join(work, "victim")
    shutil.copytree(base_out, victim)
    before = snapshot(victim)

    def refuse(label, command, extra, data_dir=data):
        argv = [command, "--data", data_dir, "--out", victim] + common + FAST[command] + extra
        if not audit.expect_refusal(label, argv, victim, before):
            shutil.rmtree(victim)
            shutil.copytree(base_out, victim)

    # IDX: every hostile variant of every file, raw and gzipped, against every command.
    # All commands share the reader, so each variant goes to the next command in turn (CI time); the
    # cases that are not about content (not-a-file, ambiguity, empty splits) run every command.
    turn = [0]

    def next_command():
        turn[0] += 1
        return COMMANDS[turn[0] % len(COMMANDS)]

    for key in IDX_NAMES:
        variants = hostile.hostile_idx_images(good[key]) if "images" in key else hostile.hostile_idx_labels(good[key])
        for vname, payload in variants:
            for as_gz in (False, True):
                d = make_data("case", replace=key, payload=gzip.compress(payload, mtime=0) if as_gz else payload, as_gz=as_gz)
                refuse(f"idx {key} {vname} {'gz' if as_gz else 'raw'}", next_command(), [], d)
        for vname, payload in hostile.gzip_variants(good[key]):
            if vname in ("gz-trailing-garbage",):  # zlib stops at the member's end: the data itself is valid
                continue
            d = make_data("case", replace=key, payload=payload, as_gz=True)
            refuse(f"idx {key} {vname}", next_command(), [], d)

    def fifo(p):
        os.mkfifo(p)

    def loop(p):
        os.symlink(os.path.basename(p), p)

    def dangling(p):
        os.symlink("/nonexistent/zs-target", p)

    for sname, special in (("folder", os.mkdir), ("fifo", fifo), ("symlink-loop", loop), ("dangling", dangling),
                           ("device", lambda p: os.symlink("/dev/zero", p))):
        d = make_data("case", replace="test-images", special=special)
        for command in COMMANDS:
            refuse(f"idx not-a-file {sname}", command, [], d)
    d = make_data("case")
    write(os.path.join(d, IDX_NAMES["test-labels"] + ".gz"), gzip.compress(good["test-labels"], mtime=0))
    for command in COMMANDS:
        refuse("idx raw and gz side by side", command, [], d)
    for key in ("train-images", "test-images"):
        empty = make_data("case", replace=key, payload=hostile.idx_images(0), as_gz=False)
        os.remove(os.path.join(empty, IDX_NAMES[key.replace("images", "labels")] + (".gz" if gz[key] else "")))
        write(os.path.join(empty, IDX_NAMES[key.replace("images", "labels")]), hostile.idx_labels(0))
        for command in COMMANDS:
            refuse(f"idx empty {key}", command, [], empty)

    # Checkpoints: every hostile variant resumed by ae (z_dim 2, as written) and vae.
    ck_dir = os.path.join(work, "ck")
    os.makedirs(ck_dir, exist_ok=True)
    for vname, payload in hostile.hostile_checkpoints(checkpoint):
        path = os.path.join(ck_dir, "model.safetensors")
        write(path, payload)
        refuse(f"checkpoint {vname}", "ae", ["--resume", path])
    for sname, special in (("folder", os.mkdir), ("fifo", fifo), ("symlink-loop", loop), ("dangling", dangling)):
        path = os.path.join(ck_dir, "special-" + sname)
        special(path)
        refuse(f"checkpoint not-a-file {sname}", "ae", ["--resume", path])
        refuse(f"checkpoint not-a-file {sname}", "vae", ["--resume", path])
    refuse("checkpoint device", "ae", ["--resume", "/dev/zero"])
    refuse("checkpoint of ae resumed by vae", "vae", ["--resume", os.path.join(base_out, "model.safetensors")])

    # NPY feature sets for kmeans --features.
    latents = os.path.join(base_out, "latent_train.npy")
    rows = 64
    for member, generator in (("latent_train.npy", hostile.hostile_npy_matrix(rows, 2)),
                              ("latent_test_labels.npy", hostile.hostile_npy_labels(32))):
        for vname, payload in generator:
            fdir = os.path.join(work, "features")
            shutil.rmtree(fdir, ignore_errors=True)
            shutil.copytree(base_out, fdir)
            write(os.path.join(fdir, member), payload)
            refuse(f"npy {member} {vname}", "kmeans", ["--features", fdir])
    for sname, special in (("missing-folder", None), ("fifo", fifo), ("folder", os.mkdir)):
        fdir = os.path.join(work, "features")
        shutil.rmtree(fdir, ignore_errors=True)
        if special is None:
            refuse("npy --features missing folder", "kmeans", ["--features", fdir])
            continue
        shutil.copytree(base_out, fdir)
        os.remove(os.path.join(fdir, "latent_test.npy"))
        special(os.path.join(fdir, "latent_test.npy"))
        refuse(f"npy not-a-file {sname}", "kmeans", ["--features", fdir])
    del latents

    # Options.
    for command in COMMANDS:
        for oname, tail in hostile.hostile_options(command):
            refuse(f"option {command} {oname}", command, tail)

    print(f"adversarial: {audit.cases} hostile cases, {audit.failures} failed")
    for line in audit.failed[:60]:
        print("  FAIL", line)
    if not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if audit.failures else 0


if __name__ == "__main__":
    sys.exit(main())
