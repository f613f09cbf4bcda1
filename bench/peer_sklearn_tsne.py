#!/usr/bin/python3
"""t-SNE peer comparison: scikit-learn 1.2's TSNE and `train_mnist tsne` on the same rows, same run.

Two workloads (--only picks one):
  latents16  15,000 x 16 features: the first 16 principal components of 15,000 random Fashion-MNIST
             training images (/255), standing in for the autoencoder post's z = 16 latents
             (--features FILE_train.npy maps any latents written by `train_mnist ae` instead);
  pixels     10,000 x 784 raw MNIST pixels (/255): all 10,000 digits of the offline MNIST set in
             data/mnist (train + test), the KMeans post's map.
Both tools get the identical float32 array (written as a --features .npy set for train_mnist) with
sklearn 1.2's defaults: perplexity 30, early exaggeration 12, learning rate "auto", 1000
iterations, init "pca", Barnes-Hut angle 0.5 (train_mnist: --method auto = Barnes-Hut on the cpu).
Prints wall seconds (sklearn: fit_transform; train_mnist: kNN + P + optimisation from its
metrics.json, and the whole process), CPU seconds (all threads: less sensitive than wall time to a
machine shared with other jobs), the final KL divergences, iterations, and the ratios
zspace / sklearn. Both use --threads threads (default: all cores).

Needs /usr/bin/python3 with numpy and sklearn (Debian python3-numpy, python3-sklearn) and a built
train_mnist (--train-mnist, default: the newest build/*/tools/train_mnist).
Usage: bench/peer_sklearn_tsne.py [--only latents16|pixels] [--threads N] [--seed S] [--features F]
"""
import argparse
import glob
import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnist", default=os.path.join(REPO, "data/mnist"), help="MNIST IDX folder (pixels)")
    p.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST IDX folder")
    p.add_argument("--features", default=None, help="latents16: a *_train.npy written by train_mnist ae instead")
    p.add_argument("--train-mnist", default=None, help="path of the train_mnist binary")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["latents16", "pixels"], default=None)
    p.add_argument("--keep", default=None, help="folder to keep train_mnist's outputs in (default: a temp dir)")
    return p.parse_args()


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def idx_file(folder, name):
    for candidate in (name, name + ".gz"):
        if os.path.exists(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    sys.exit(f"peer_sklearn_tsne: {name}(.gz) not found in {folder}")


def load_split(folder, prefix):
    x = read_idx(idx_file(folder, f"{prefix}-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0
    y = read_idx(idx_file(folder, f"{prefix}-labels-idx1-ubyte")).astype(np.int32)
    return x, y


def workload(name, args):
    rng = np.random.default_rng(args.seed)
    if name == "pixels":
        xa, ya = load_split(args.mnist, "train")
        xb, yb = load_split(args.mnist, "t10k")
        x, y = np.concatenate([xa, xb]), np.concatenate([ya, yb])
        take = rng.permutation(len(x))[:10000]
        return x[take], y[take], f"{len(take)} x 784 MNIST pixels"
    if args.features:
        x = np.load(args.features).astype(np.float32)
        y = np.load(args.features.replace("_train.npy", "_train_labels.npy")).astype(np.int32)
        take = rng.permutation(len(x))[:15000]
        return x[take], y[take], f"{len(take)} x {x.shape[1]} latents of {args.features}"
    x, y = load_split(args.fashion, "train")
    take = rng.permutation(len(x))[:15000]
    x, y = x[take], y[take]
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return np.ascontiguousarray(centred @ vt[:16].T, dtype=np.float32), y, "15000 x 16 PCA features of Fashion-MNIST"


def train_mnist_binary(args):
    if args.train_mnist:
        return args.train_mnist
    found = sorted(glob.glob(os.path.join(REPO, "build/*/tools/train_mnist")), key=os.path.getmtime)
    if not found:
        sys.exit("peer_sklearn_tsne: no build/*/tools/train_mnist; build it or pass --train-mnist")
    return found[-1]


def run_zspace(x, y, args, folder):
    feats = os.path.join(folder, "peer_train.npy")
    np.save(feats, x)
    np.save(os.path.join(folder, "peer_train_labels.npy"), y)
    np.save(os.path.join(folder, "peer_test.npy"), x[:2])
    np.save(os.path.join(folder, "peer_test_labels.npy"), y[:2])
    out = os.path.join(folder, "out")
    cmd = [train_mnist_binary(args), "tsne", "--features", feats, "--n", str(len(x)), "--device", "cpu",
           "--threads", str(args.threads), "--seed", str(args.seed), "--out", out, "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = json.load(open(os.path.join(out, "metrics.json")))
    m["cpu_seconds"] = cpu
    return m["seconds_knn"] + m["seconds_p"] + m["seconds_optimize"], wall, m["kl_divergence"], m["n_iter"], m


def run_sklearn(x, args):
    from sklearn.manifold import TSNE
    tsne = TSNE(n_components=2, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto", n_iter=1000,
                init="pca", method="barnes_hut", angle=0.5, random_state=args.seed, n_jobs=args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    tsne.fit_transform(x)
    return (time.perf_counter() - start, time.process_time() - cpu_start, float(tsne.kl_divergence_),
            int(tsne.n_iter_))


def main():
    args = parse_args()
    import sklearn
    print(f"sklearn {sklearn.__version__}, numpy {np.__version__}, threads {args.threads}, seed {args.seed}")
    for name in [args.only] if args.only else ["latents16", "pixels"]:
        x, y, what = workload(name, args)
        folder = args.keep or tempfile.mkdtemp(prefix="zs-peer-tsne-")
        os.makedirs(folder, exist_ok=True)
        z_fit, z_wall, z_kl, z_iter, m = run_zspace(x, y, args, folder)
        s_fit, s_cpu, s_kl, s_iter = run_sklearn(x, args)
        print(f"\n{name}: {what}  (load average before: {os.getloadavg()[0]:.1f})")
        print(f"  sklearn  TSNE      {s_fit:8.2f} s   KL {s_kl:.4f}   n_iter {s_iter}   (CPU {s_cpu:.2f} s)")
        print(f"  zspace   tsne      {z_fit:8.2f} s   KL {z_kl:.4f}   n_iter {z_iter}   "
              f"(kNN {m['seconds_knn']:.2f} s, P {m['seconds_p']:.2f} s, optimisation {m['seconds_optimize']:.2f} s; "
              f"process {z_wall:.2f} s, CPU {m['cpu_seconds']:.2f} s; trustworthiness(5) {m['trustworthiness_5']:.4f})")
        print(f"  ratio zspace/sklearn: time {z_fit / s_fit:.3f}   CPU {m['cpu_seconds'] / s_cpu:.3f}   "
              f"KL {z_kl / s_kl:.4f}")


if __name__ == "__main__":
    main()
