#!/usr/bin/env bash
# Data-parallel KMeans (runtime/dist, runtime/cluster/kmeans_dist.h) on this machine: train_mnist
# kmeans (Lloyd, k-means++) on the 60,000 Fashion-MNIST training images, as one process and under
# mpirun -np 2, in alternating rounds (the same load drift for every configuration). Prints each
# run and, per configuration, the median fit time (k-means++ and the Lloyd passes: metrics.json's
# fit_seconds), that time over n_iter (k-means++ included), and the inertia (the same for every R,
# to rounding), with the load average before and after (this machine is shared).
# Configurations: R=1 with 1 thread, R=1 with T threads, R=2 with T/2 threads each (the same cores).
#
#   bench/mpi_kmeans_scaling.sh [--k N] [--n-init N] [--max-iter N] [--threads T] [--rounds N] [--data DIR]
#
# Env ZS_BUILD: build folder (default build/release). Exit codes: 0 ok, 2 bad input, else the run's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZS_BUILD:-$repo/build/release}
data=$repo/data/fashion-mnist
k=225
n_init=1
max_iter=20
threads=2
rounds=3

fail() { echo "mpi_kmeans_scaling.sh: error: $*" >&2; exit 2; }
need_count() { [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "$1 '${2:-}' is not a positive integer; pass e.g. $1 2"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --data) [[ -n ${2:-} ]] || fail "--data needs a folder"; data=$2; shift 2 ;;
    --k) need_count "$@"; k=$2; shift 2 ;;
    --n-init) need_count "$@"; n_init=$2; shift 2 ;;
    --max-iter) need_count "$@"; max_iter=$2; shift 2 ;;
    --threads) need_count "$@"; threads=$2; shift 2 ;;
    --rounds) need_count "$@"; rounds=$2; shift 2 ;;
    *) fail "unknown option '$1'; see the header of $0" ;;
  esac
done
[[ -x $build/tools/train_mnist ]] || fail "no $build/tools/train_mnist; build first (cmake --build --preset release)"
command -v mpirun >/dev/null || fail "no mpirun; install openmpi-bin (scripts/setup-deps)"
(( threads >= 2 )) || fail "--threads must be >= 2 (R=2 runs with threads/2 each)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --tol 0: every configuration runs the same iterations (until max_iter or stable labels).
args=(kmeans --data "$data" --k "$k" --n-init "$n_init" --max-iter "$max_iter" --tol 0 --device cpu --quiet)
run() {   # name, ranks, threads per rank
  local out=$work/$1-$round
  if [[ $2 == 1 ]]; then
    "$build/tools/train_mnist" "${args[@]}" --threads "$3" --out "$out"
  else
    mpirun -np "$2" --bind-to none "$build/tools/train_mnist" "${args[@]}" --threads "$3" --out "$out"
  fi
  /usr/bin/python3 - "$out/metrics.json" "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<14} fit {m['fit_seconds']:8.2f} s  n_iter {m['n_iter']:3d}  inertia {m['inertia']:.10g}")
PY
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  run "R1xT1" 1 1
  run "R1xT$threads" 1 "$threads"
  run "R2xT$((threads / 2))" 2 "$((threads / 2))"
done | tee "$work/log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "k=$k n_init=$n_init max_iter=$max_iter on $(basename "$data"), $rounds rounds (medians):"
/usr/bin/python3 - "$work/log" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, fit, n_iter, inertia = re.match(r"(\S+)\s+fit\s+([\d.]+) s\s+n_iter\s+(\d+)\s+inertia (\S+)", line).groups()
    runs.setdefault(name, []).append((float(fit), int(n_iter), inertia))
base = None
print(f"| config | fit s (median) | fit s / n_iter | speed-up vs R1xT1 | inertia |")
print(f"|---|---|---|---|---|")
for name, rs in runs.items():
    fit = statistics.median(r[0] for r in rs)
    base = base or fit
    print(f"| {name} | {fit:.2f} | {fit / rs[0][1]:.3f} | {base / fit:.2f}x | {rs[0][2]} |")
PY
