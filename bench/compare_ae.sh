#!/usr/bin/env bash
# Trains the conv autoencoder with zspace (tools/train_mnist ae) and with the PyTorch peer
# (bench/peer_torch_ae.py, same model, init, loss and optimizer semantics) on the same data, one
# after the other in this run, and prints both throughputs, both test losses and the ratios.
#
#   bench/compare_ae.sh [--data DIR] [--epochs N] [--threads N] [--device cpu|cuda]
#                       [--train-limit N] [--test-limit N]
#
# Env ZS_BUILD: zspace build folder (default build/release); the driver is $ZS_BUILD/tools/train_mnist.
# Throughput on both sides = total training images / total training seconds over all epochs
# (no warm-up excluded). Timings on a shared machine are noisy: compare numbers from one run.
# Exit codes: 0 ok, 2 bad input, otherwise the failing side's exit code.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZS_BUILD:-$repo/build/release}
python=/usr/bin/python3
data=$repo/data/mnist
epochs=1
threads=2
device=cpu
limits=()

usage() { sed -n '6,7p' "$0" | sed 's/^# *//'; }
fail() { echo "compare_ae.sh: error: $*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || fail "$1 needs a value; see --help"; }
need_count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1 '$2' is not a positive integer; pass e.g. $1 2"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --data) need_value "$@"; data=$2; shift 2 ;;
    --epochs) need_value "$@"; need_count "$1" "$2"; epochs=$2; shift 2 ;;
    --threads) need_value "$@"; need_count "$1" "$2"; threads=$2; shift 2 ;;
    --device) need_value "$@"; device=$2; shift 2
      [[ $device == cpu || $device == cuda ]] || fail "--device '$device': use cpu or cuda" ;;
    --train-limit|--test-limit) need_value "$@"; need_count "$1" "$2"; limits+=("$1" "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown argument '$1'; see --help" ;;
  esac
done

driver=$build/tools/train_mnist
[[ -x $driver ]] || fail "no zspace driver at $driver; build it (cmake --preset release &&" \
  "cmake --build build/release --target train_mnist) or set ZS_BUILD to your build folder"
[[ -d $data ]] || fail "--data $data is not a folder; run tools/fetch_data or pass --data DIR" \
  "with the four MNIST IDX files"
[[ -x $python ]] || fail "$python not found; install Debian's python3-torch and python3-numpy"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare_ae.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "zspace: $driver ae on $data, $epochs epoch(s), $threads thread(s), device $device" >&2
"$driver" ae --data "$data" --out "$tmp/zspace" --epochs "$epochs" --batch 128 \
  --threads "$threads" --device "$device" --quiet "${limits[@]}"

echo "torch:  bench/peer_torch_ae.py, same settings" >&2
"$python" "$repo/bench/peer_torch_ae.py" --data "$data" --json "$tmp/peer.json" --epochs "$epochs" \
  --batch 128 --threads "$threads" --device "$device" --quiet "${limits[@]}" >/dev/null

"$python" - "$tmp/zspace/metrics.json" "$tmp/peer.json" <<'EOF'
import json, sys

def load(path, who):
    try:
        with open(path) as f:
            metrics = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"compare_ae.sh: error: {who} metrics {path} unreadable ({e})")
    for key in ("images_per_second", "test_loss"):
        if not isinstance(metrics.get(key), (int, float)):
            sys.exit(f"compare_ae.sh: error: {who} metrics {path} lack a numeric '{key}'")
    return metrics

zs, pt = load(sys.argv[1], "zspace"), load(sys.argv[2], "torch")
torch_name = f"torch {pt.get('torch_version', '?')}"
print(f"{'':<22}{'zspace':>14}{torch_name:>18}")
print(f"{'images/s (train)':<22}{zs['images_per_second']:>14.1f}{pt['images_per_second']:>18.1f}")
print(f"{'test loss (BCE)':<22}{zs['test_loss']:>14.5f}{pt['test_loss']:>18.5f}")
print(f"throughput ratio zspace/torch: {zs['images_per_second'] / pt['images_per_second']:.2f}x")
print(f"test BCE ratio zspace/torch: {zs['test_loss'] / pt['test_loss']:.3f}")
EOF
