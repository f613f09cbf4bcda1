#!/usr/bin/env bash
# Trains the conv autoencoder with zspace (tools/train_mnist ae) and with the PyTorch peer
# (bench/peer_torch_ae.py, same model, init, loss and optimizer semantics) on the same data, one
# after the other in this run, and prints both throughputs, both test losses and the ratios.
#
#   bench/compare_ae.sh [--data DIR] [--epochs N] [--threads N] [--device cpu|cuda]
#                       [--train-limit N] [--test-limit N] [--rounds N] [--precision fp32|bf16]
#
# --precision bf16 runs zspace's CPU convolution GEMMs with bf16 inputs (the peer stays fp32).
# --rounds N alternates the two sides N times (zspace, torch, zspace, torch, ...) and reports
# every round's ratio and their median: on a shared machine the load drifts within minutes, and
# alternating puts both sides under the same drift.
# Env ZS_BUILD: zspace build folder (default build/release); the driver is $ZS_BUILD/tools/train_mnist.
# Env ZS_CPU_ISA=avx2|avx512 forces zspace's CPU path (default: the widest this CPU has); the
# output names the path that ran.
# Throughput on both sides = total training images / total training seconds over all epochs
# (no warm-up excluded). Timings on a shared machine are noisy: compare numbers from one run.
# Exit codes: 0 ok, 2 bad input, otherwise the failing side's exit code.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZS_BUILD:-$repo/build/release}
python=/usr/bin/python3
data=$repo/data/mnist
epochs=1
rounds=1
threads=2
device=cpu
precision=fp32
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
    --rounds) need_value "$@"; need_count "$1" "$2"; rounds=$2; shift 2 ;;
    --device) need_value "$@"; device=$2; shift 2
      [[ $device == cpu || $device == cuda ]] || fail "--device '$device': use cpu or cuda" ;;
    --precision) need_value "$@"; precision=$2; shift 2
      [[ $precision == fp32 || $precision == bf16 ]] || fail "--precision '$precision': use fp32 or bf16" ;;
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

metrics=()
for ((round = 1; round <= rounds; round++)); do
  echo "round $round/$rounds: zspace: $driver ae on $data, $epochs epoch(s), $threads thread(s), device $device" >&2
  "$driver" ae --data "$data" --out "$tmp/zspace$round" --epochs "$epochs" --batch 128 \
    --threads "$threads" --device "$device" --precision "$precision" --quiet "${limits[@]}"

  echo "round $round/$rounds: torch:  bench/peer_torch_ae.py, same settings" >&2
  "$python" "$repo/bench/peer_torch_ae.py" --data "$data" --json "$tmp/peer$round.json" --epochs "$epochs" \
    --batch 128 --threads "$threads" --device "$device" --quiet "${limits[@]}" >/dev/null
  metrics+=("$tmp/zspace$round/metrics.json" "$tmp/peer$round.json")
done

"$python" - "${metrics[@]}" <<'EOF'
import json, statistics, sys

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

paths = sys.argv[1:]
rounds = [(load(z, "zspace"), load(t, "torch")) for z, t in zip(paths[0::2], paths[1::2])]
zs, pt = rounds[0]
ratios = [z["images_per_second"] / t["images_per_second"] for z, t in rounds]
torch_name = f"torch {pt.get('torch_version', '?')}"
if len(rounds) > 1:
    print(f"{'round':<22}{'zspace img/s':>14}{'torch img/s':>18}{'ratio':>8}")
    for i, ((z, t), r) in enumerate(zip(rounds, ratios), 1):
        print(f"{i:<22}{z['images_per_second']:>14.1f}{t['images_per_second']:>18.1f}{r:>7.2f}x")
print(f"zspace CPU path (ZS_CPU_ISA / cpu_isa): {zs.get('cpu_isa', '?')}, precision {zs.get('precision', 'fp32')}")
print(f"{'':<22}{'zspace':>14}{torch_name:>18}")
# Several rounds: the median of each side's throughput; the test losses are round 1's (both sides
# are seeded, so every round trains the same model).
zs_ips = statistics.median(z["images_per_second"] for z, _ in rounds)
pt_ips = statistics.median(t["images_per_second"] for _, t in rounds)
print(f"{'images/s (train)':<22}{zs_ips:>14.1f}{pt_ips:>18.1f}")
print(f"{'test loss (BCE)':<22}{zs['test_loss']:>14.5f}{pt['test_loss']:>18.5f}")
if len(rounds) > 1:
    print(f"throughput ratio zspace/torch: median {statistics.median(ratios):.2f}x of {len(rounds)} rounds "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
else:
    print(f"throughput ratio zspace/torch: {ratios[0]:.2f}x")
print(f"test BCE ratio zspace/torch: {zs['test_loss'] / pt['test_loss']:.3f}")
EOF
