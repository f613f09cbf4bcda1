#!/usr/bin/python3
"""KMeans peer comparison: scikit-learn 1.2 and zspace on the same data in the same run.

Runs, on the 60,000 Fashion-MNIST training images scaled by 1/255:
  1. KMeans k=25, k-means++, n_init=10, max_iter=50, tol=1e-4 (Lloyd);
  2. MiniBatchKMeans k=225, batch_size=200, n_init=3, max_iter=100 (sklearn's other defaults);
once with sklearn and once with `train_mnist kmeans` (whose OUT/metrics.json gives inertia,
fit_seconds, n_iter, train_error, test_error), and prints times, inertias, classifier errors
(majority label of each cluster's training members) and the zspace/sklearn ratios.

sklearn gets float32 input by default, the precision zspace computes in (pass --sklearn-dtype
float64 for sklearn's float64 path, which is what `X / 255.0` would give). Both use the same
thread count (--threads, default: all cores). Fit times exclude loading and scaling the data.
On a shared machine wall times swing with the load (printed before and after), so CPU seconds
are reported too: sklearn's for the fit alone, zspace's for its whole process (loading the data
and the classifier errors included: an upper bound on its fit's CPU time).

Needs /usr/bin/python3 with numpy and sklearn (Debian python3-numpy, python3-sklearn), and a
built train_mnist (--train-mnist, default: the newest build/*/tools/train_mnist).
Usage: bench/peer_sklearn_kmeans.py [--only lloyd|minibatch] [--threads N] [--seed S]
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder with the four IDX .gz files")
    p.add_argument("--train-mnist", default=None, help="path of the train_mnist binary")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["lloyd", "minibatch"], default=None, help="run one of the two comparisons")
    p.add_argument("--sklearn-dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--lloyd-k", type=int, default=25)
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--max-iter", type=int, default=50)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--minibatch-k", type=int, default=225)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--minibatch-n-init", type=int, default=3)
    p.add_argument("--minibatch-max-iter", type=int, default=100)
    return p.parse_args()


def fail(message):
    print("peer_sklearn_kmeans: " + message, file=sys.stderr)
    sys.exit(2)


def read_idx(path, magic, dims):
    """Returns the payload of an IDX file (raw or .gz) as a uint8 array of the header's shape."""
    import numpy as np

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    got_magic = struct.unpack(">I", data[:4])[0]
    if got_magic != magic:
        fail(f"{path}: magic {got_magic}, expected {magic}; is this an IDX file?")
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find_file(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    fail(f"no {stem}[.gz] in {folder}; pass --data with the Fashion-MNIST IDX files")


def find_train_mnist(explicit):
    if explicit:
        if not os.access(explicit, os.X_OK):
            fail(f"--train-mnist {explicit}: not an executable; build it with cmake --build <dir> --target train_mnist")
        return explicit
    found = sorted(glob.glob(os.path.join(REPO, "build", "*", "tools", "train_mnist")), key=os.path.getmtime)
    if not found:
        fail("no build/*/tools/train_mnist; build it (cmake --build <dir> --target train_mnist) or pass --train-mnist")
    return found[-1]


def majority_classifier_errors(centers, train_clusters, y_train, test_clusters, y_test, n_classes=10):
    """Majority label per cluster (ties: smallest class; empty: nearest non-empty centre's label)."""
    import numpy as np

    k = centers.shape[0]
    votes = np.zeros((k, n_classes), dtype=np.int64)
    np.add.at(votes, (train_clusters, y_train), 1)
    sizes = votes.sum(axis=1)
    labels = votes.argmax(axis=1)  # argmax returns the first maximum: the smallest class
    nonempty = np.flatnonzero(sizes > 0)
    for j in np.flatnonzero(sizes == 0):
        d2 = ((centers[nonempty].astype(np.float64) - centers[j]) ** 2).sum(axis=1)
        labels[j] = labels[nonempty[d2.argmin()]]
    train_error = float((labels[train_clusters] != y_train).mean())
    test_error = float((labels[test_clusters] != y_test).mean())
    return train_error, test_error


def run_sklearn(kind, args, x, x_test, y_train, y_test):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    xs = x.astype(args.sklearn_dtype)
    xt = x_test.astype(args.sklearn_dtype)
    if kind == "lloyd":
        model = KMeans(n_clusters=args.lloyd_k, init="k-means++", n_init=args.n_init, max_iter=args.max_iter,
                       tol=args.tol, algorithm="lloyd", random_state=args.seed)
    else:
        model = MiniBatchKMeans(n_clusters=args.minibatch_k, init="k-means++", batch_size=args.batch_size,
                                n_init=args.minibatch_n_init, max_iter=args.minibatch_max_iter, random_state=args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(xs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    train_err, test_err = majority_classifier_errors(model.cluster_centers_, model.labels_, y_train,
                                                     model.predict(xt), y_test)
    return {"fit_seconds": seconds, "cpu_seconds": cpu, "inertia": float(model.inertia_),
            "n_iter": int(model.n_iter_), "train_error": train_err, "test_error": test_err}


def run_zspace(kind, args, binary):
    with tempfile.TemporaryDirectory(prefix="zs_peer_kmeans_") as out:
        cmd = [binary, "kmeans", "--data", args.data, "--out", out, "--threads", str(args.threads),
               "--seed", str(args.seed), "--scale", "unit", "--init", "k-means++", "--quiet"]
        if kind == "lloyd":
            cmd += ["--algo", "lloyd", "--k", str(args.lloyd_k), "--n-init", str(args.n_init),
                    "--max-iter", str(args.max_iter), "--tol", str(args.tol)]
        else:
            cmd += ["--algo", "minibatch", "--k", str(args.minibatch_k), "--batch-size", str(args.batch_size),
                    "--n-init", str(args.minibatch_n_init), "--max-iter", str(args.minibatch_max_iter)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            fail(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr}")
        with open(os.path.join(out, "metrics.json")) as f:
            m = json.load(f)
    result = {key: m[key] for key in ("fit_seconds", "inertia", "n_iter", "train_error", "test_error")}
    result["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def report(title, sk, zs):
    print(f"\n== {title}")
    print(f"{'':10} {'fit s':>9} {'CPU s':>9} {'inertia':>14} {'n_iter':>7} {'train err':>10} {'test err':>9}")
    for name, r in (("sklearn", sk), ("zspace", zs)):
        print(f"{name:10} {r['fit_seconds']:9.2f} {r['cpu_seconds']:9.2f} {r['inertia']:14.1f} {r['n_iter']:7d} "
              f"{100 * r['train_error']:9.2f}% {100 * r['test_error']:8.2f}%")
    print(f"zspace/sklearn: time {zs['fit_seconds'] / sk['fit_seconds']:.3f}x, "
          f"CPU {zs['cpu_seconds'] / sk['cpu_seconds']:.3f}x (zspace's whole process), "
          f"inertia {zs['inertia'] / sk['inertia']:.4f}x, "
          f"train error {zs['train_error'] - sk['train_error']:+.4f}, test error {zs['test_error'] - sk['test_error']:+.4f}")


def main():
    args = parse_args()
    # sklearn sizes its OpenMP and BLAS pools from these; set them before numpy/sklearn load.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    try:
        import numpy as np
        import sklearn
    except ImportError as e:
        fail(f"{e}; run with /usr/bin/python3 and install python3-numpy python3-sklearn")
    binary = find_train_mnist(args.train_mnist)
    x = read_idx(find_file(args.data, "train-images-idx3-ubyte"), 2051, 3).reshape(-1, 784)
    y_train = read_idx(find_file(args.data, "train-labels-idx1-ubyte"), 2049, 1).astype(np.int64)
    x_test = read_idx(find_file(args.data, "t10k-images-idx3-ubyte"), 2051, 3).reshape(-1, 784)
    y_test = read_idx(find_file(args.data, "t10k-labels-idx1-ubyte"), 2049, 1).astype(np.int64)
    x = x.astype(np.float64) / 255.0
    x_test = x_test.astype(np.float64) / 255.0
    print(f"sklearn {sklearn.__version__} ({args.sklearn_dtype}), numpy {np.__version__}; zspace {binary}; "
          f"{x.shape[0]} x {x.shape[1]} training images, {args.threads} threads, seed {args.seed}")
    kinds = [args.only] if args.only else ["lloyd", "minibatch"]
    for kind in kinds:
        load = os.getloadavg()[0]
        sk = run_sklearn(kind, args, x, x_test, y_train, y_test)
        load_mid = os.getloadavg()[0]
        zs = run_zspace(kind, args, binary)
        print(f"load average (1 min): {load:.1f} before sklearn, {load_mid:.1f} before zspace, "
              f"{os.getloadavg()[0]:.1f} after")
        if kind == "lloyd":
            report(f"KMeans k={args.lloyd_k}, n_init={args.n_init}, max_iter={args.max_iter}, tol={args.tol}", sk, zs)
        else:
            report(f"MiniBatchKMeans k={args.minibatch_k}, batch={args.batch_size}, n_init={args.minibatch_n_init}, "
                   f"max_iter={args.minibatch_max_iter}", sk, zs)


if __name__ == "__main__":
    main()
