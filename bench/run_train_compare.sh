#!/usr/bin/env bash
# Training speed and memory side by side: tunekit's bench_train and the tuned PyTorch baseline
# (../shared/bench/run_baseline.sh train --batch B --seq S [--ckpt] [--full]), one process per
# configuration (peak RSS is per process), alternating which goes first in each round so both share
# the machine's noise. Prints every JSON line tagged with its round, then one summary line per
# configuration: the medians over rounds, tunekit/PyTorch tokens/s (median of same-round ratios, and
# the ratio of the two sides' fastest steps over all rounds, which a neighbour's burst in one round
# disturbs least) and peak-RSS ratios, and pass/fail against the targets (tokens/s >= 1.5x by both
# speed ratios, peak RSS <= 0.5x).
#   bench/run_train_compare.sh [--rounds 1] [--threads 2] [--configs 4x256,1x1024,4x256+ckpt,1x1024+ckpt]
#                              [--build-dir DIR] [--no-build] [--help]
# A configuration is BxS with optional +ckpt and +full, e.g. 1x256+full. Builds bench_train
# (Release) in DIR (default build-bench) first unless --no-build. Without ../shared (or
# TUNEKIT_SHARED) the PyTorch side is skipped and says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=1 threads=2 configs=4x256,1x1024,4x256+ckpt,1x1024+ckpt build=$root/build-bench do_build=1
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --no-build) do_build=0; shift; continue ;;
    --rounds) rounds=$2 ;;
    --threads) threads=$2 ;;
    --configs) configs=$2 ;;
    --build-dir) build=$2 ;;
    *) echo "run_train_compare.sh: unknown argument '$1' (see the header of this script)" >&2; exit 2 ;;
  esac
  shift 2
done
baseline=${TUNEKIT_SHARED:-$root/../shared}/bench/run_baseline.sh
[ -x "$baseline" ] || { echo "run_train_compare.sh: $baseline not found: PyTorch side skipped" >&2; baseline=; }

if [ $do_build = 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTUNEKIT_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target bench_train >&2
fi

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT

# "4x256+ckpt" -> "--batch 4 --seq 256 --ckpt"
flags_of() {
  local c=$1 bs=${1%%+*} out
  out="--batch ${bs%x*} --seq ${bs#*x}"
  case $c in *+ckpt*) out="$out --ckpt" ;; esac
  case $c in *+full*) out="$out --full" ;; esac
  echo "$out"
}
# Runs a command and prefixes each JSON line it prints with the round and configuration.
tagged() {
  local prefix=$1; shift
  "$@" | grep '^{' | sed "s/^{/{$prefix/" | tee -a "$lines"
}
ours() { tagged "\"round\":$1,\"config\":\"$2\"," "$build/bin/bench_train" $(flags_of "$2") --threads "$threads"; }
theirs() {
  [ -n "$baseline" ] || return 0
  tagged "\"round\":$1,\"config\":\"$2\",\"impl\":\"pytorch\"," "$baseline" train $(flags_of "$2") --threads "$threads"
}
for r in $(seq 1 "$rounds"); do
  for c in ${configs//,/ }; do
    if [ $((r % 2)) = 1 ]; then ours "$r" "$c"; theirs "$r" "$c"; else theirs "$r" "$c"; ours "$r" "$c"; fi
  done
done

/usr/bin/python3 - "$lines" "$configs" <<'EOF'
import json, statistics, sys
path, configs = sys.argv[1], sys.argv[2].split(",")
rows = [json.loads(l) for l in open(path) if l.startswith("{")]

def med(values):
    return statistics.median(values) if values else None

for c in configs:
    ours = {r["round"]: r for r in rows if r["config"] == c and r.get("impl") == "tunekit"}
    theirs = {r["round"]: r for r in rows if r["config"] == c and r.get("impl") == "pytorch"}
    speed = [ours[k]["tokens_per_s"] / theirs[k]["tokens_per_s"] for k in ours if k in theirs]
    rss = [ours[k]["peak_rss_mib"] / theirs[k]["peak_rss_mib"] for k in ours if k in theirs]
    best_step = (min(r["step_s_min"] for r in theirs.values()) / min(r["step_s_min"] for r in ours.values())
                 if speed else None)
    checks = {"tokens_per_s_ge_1.5x": None if not speed else med(speed) >= 1.5 and best_step >= 1.5,
              "peak_rss_le_0.5x": None if not rss else med(rss) <= 0.5}
    print(json.dumps({
        "bench": "train_compare_summary", "config": c, "rounds": len(ours),
        "load_avg_1min_per_round": [ours[k]["load_avg_1min"] for k in sorted(ours)],
        "tunekit_tokens_per_s": med([r["tokens_per_s"] for r in ours.values()]),
        "pytorch_tokens_per_s": med([r["tokens_per_s"] for r in theirs.values()]),
        "speed_ratio": med(speed), "speed_ratio_per_round": speed, "best_step_speed_ratio": best_step,
        "tunekit_peak_rss_mib": med([r["peak_rss_mib"] for r in ours.values()]),
        "pytorch_peak_rss_mib": med([r["peak_rss_mib"] for r in theirs.values()]),
        "rss_ratio": med(rss),
        "tunekit_mfu_vs_gemm": med([r["mfu_vs_gemm"] for r in ours.values()]),
        "tunekit_mfu_vs_fp32_peak": med([r["mfu_vs_fp32_peak"] for r in ours.values()]),
        "checks": checks, "pass": all(v is True for v in checks.values())}))
EOF
