#!/usr/bin/env bash
# zspace's CPU paths side by side with the PyTorch peer: each round trains the conv autoencoder
# with zspace on every CPU path this machine has (ZS_CPU_ISA=avx2, avx512, and avx512 with
# --precision bf16 where AVX512_BF16 exists), then with bench/peer_torch_ae.py, all on the same data
# and settings, one after the other; prints each round and the medians, and each path's ratio to
# PyTorch and to zspace avx2 fp32. Same accounting as bench/compare_ae.sh (training images /
# training seconds, no warm-up excluded); alternating puts every side under the same load drift.
#
#   bench/compare_cpu_paths.sh [--data DIR] [--epochs N] [--threads N] [--rounds N] [--train-limit N] [--test-limit N]
#
# Env ZS_BUILD: zspace build folder (default build/release).
# Exit codes: 0 ok, 2 bad input, otherwise the failing side's exit code.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZS_BUILD:-$repo/build/release}
python=/usr/bin/python3
data=$repo/data/mnist
epochs=4
rounds=3
threads=2
limits=()

fail() { echo "compare_cpu_paths.sh: error: $*" >&2; exit 2; }
need_count() { [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "$1 '${2:-}' is not a positive integer; pass e.g. $1 2"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --data) [[ -n ${2:-} ]] || fail "--data needs a folder"; data=$2; shift 2 ;;
    --epochs) need_count "$@"; epochs=$2; shift 2 ;;
    --threads) need_count "$@"; threads=$2; shift 2 ;;
    --rounds) need_count "$@"; rounds=$2; shift 2 ;;
    --train-limit|--test-limit) need_count "$@"; limits+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '9p' "$0" | sed 's/^# *//'; exit 0 ;;
    *) fail "unknown argument '$1'; see --help" ;;
  esac
done
driver=$build/tools/train_mnist
[[ -x $driver ]] || fail "no zspace driver at $driver; build it or set ZS_BUILD to your build folder"
[[ -d $data ]] || fail "--data $data is not a folder; run tools/fetch_data or pass --data DIR"
[[ -x $python ]] || fail "$python not found; install Debian's python3-torch and python3-numpy"

# The paths this machine has: --version names what the CPU offers.
offers=$("$driver" --version | sed -n 's/^cpu path: [a-z0-9_]* (cpu offers \([^;]*\);.*/\1/p')
sides=("avx2 fp32")
[[ " $offers " == *" avx512 "* ]] && sides+=("avx512 fp32")
[[ " $offers " == *" avx512_bf16 "* ]] && sides+=("avx512 bf16")
echo "compare_cpu_paths.sh: cpu offers: $offers; zspace sides: ${sides[*]}" >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare_cpu_paths.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for ((round = 1; round <= rounds; round++)); do
  for side in "${sides[@]}"; do
    read -r isa precision <<<"$side"
    echo "round $round/$rounds: zspace $isa $precision" >&2
    ZS_CPU_ISA=$isa "$driver" ae --data "$data" --out "$tmp/$round-$isa-$precision" --epochs "$epochs" --batch 128 \
      --threads "$threads" --device cpu --precision "$precision" --quiet "${limits[@]}"
  done
  echo "round $round/$rounds: torch" >&2
  "$python" "$repo/bench/peer_torch_ae.py" --data "$data" --json "$tmp/$round-torch.json" --epochs "$epochs" \
    --batch 128 --threads "$threads" --device cpu --quiet "${limits[@]}" >/dev/null
done

"$python" - "$tmp" "$rounds" "${sides[@]}" <<'EOF_PY'
import json, statistics, sys
tmp, rounds, sides = sys.argv[1], int(sys.argv[2]), [s.replace(" ", "-") for s in sys.argv[3:]]
def load(path):
    with open(path) as f:
        return json.load(f)
runs = {s: [load(f"{tmp}/{r}-{s}/metrics.json") for r in range(1, rounds + 1)] for s in sides}
runs["torch"] = [load(f"{tmp}/{r}-torch.json") for r in range(1, rounds + 1)]
ips = {s: [m["images_per_second"] for m in ms] for s, ms in runs.items()}
med = {s: statistics.median(v) for s, v in ips.items()}
print(f"{'side':<14}{'img/s per round':>32}{'median':>10}{'x torch':>9}{'x avx2':>8}{'test BCE':>10}")
for s in list(sides) + ["torch"]:
    per_round = " ".join(f"{v:8.1f}" for v in ips[s])
    vs_avx2 = med[s] / med["avx2-fp32"]
    print(f"{s:<14}{per_round:>32}{med[s]:>10.1f}{med[s] / med['torch']:>8.2f}x{vs_avx2:>7.2f}x"
          f"{runs[s][0]['test_loss']:>10.5f}")
for s in sides:
    ratios = [z / t for z, t in zip(ips[s], ips["torch"])]
    print(f"{s}: per-round ratio to torch {', '.join(f'{r:.2f}x' for r in ratios)}; median {statistics.median(ratios):.2f}x")
EOF_PY
