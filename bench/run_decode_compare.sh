#!/usr/bin/env bash
# Decode speed side by side: tunekit's bench_decode and the tuned PyTorch baseline
# (../shared/bench/run_baseline.sh decode --prompt 32 --new 128), on the same thread count,
# alternating for N rounds (ours first in odd rounds, PyTorch first in even ones) so both share the
# machine's noise. Prints every JSON line tagged with its round, then one summary line with the
# medians over rounds, the ratios and pass/fail against the targets in docs/benchmarks.md.
#   bench/run_decode_compare.sh [--rounds 3] [--threads 2] [--dtypes f32,q8_0] [--build-dir DIR] [--no-build]
#                               [--breakdown]
# --breakdown passes bench_decode --breakdown (the step's matmuls timed alone) and adds their medians.
# Builds bench_decode (Release) in DIR (default build-bench) first if it is out of date, unless
# --no-build (then the binary already in DIR is used as it is).
# Without ../shared (or TUNEKIT_SHARED) the PyTorch side is skipped and says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 threads=2 dtypes=f32,q8_0 build=$root/build-bench do_build=1 breakdown=
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) do_build=0; shift; continue ;;
    --breakdown) breakdown=--breakdown; shift; continue ;;
    --rounds) rounds=$2 ;;
    --threads) threads=$2 ;;
    --dtypes) dtypes=$2 ;;
    --build-dir) build=$2 ;;
    *) echo "run_decode_compare.sh: unknown argument '$1' (see the header of this script)" >&2; exit 2 ;;
  esac
  shift 2
done
baseline=${TUNEKIT_SHARED:-$root/../shared}/bench/run_baseline.sh
[ -x "$baseline" ] || { echo "run_decode_compare.sh: $baseline not found: PyTorch side skipped" >&2; baseline=; }

if [ $do_build = 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTUNEKIT_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target bench_decode >&2
fi

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT

# Runs a command and prefixes each JSON line it prints with "round" (and, for PyTorch, bench/impl).
tagged() {
  local prefix=$1; shift
  "$@" | sed "s/^{/{$prefix/" | tee -a "$lines"
}
ours() { tagged "\"round\":$1," "$build/bin/bench_decode" --threads "$threads" --dtypes "$dtypes" $breakdown; }
theirs() {
  [ -n "$baseline" ] || return 0
  tagged "\"round\":$1,\"bench\":\"decode\",\"impl\":\"pytorch\",\"dtype\":\"f32\"," \
    "$baseline" decode --prompt 32 --new 128 --threads "$threads"
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then ours "$r"; theirs "$r"; else theirs "$r"; ours "$r"; fi
done

/usr/bin/python3 - "$lines" "$threads" "$rounds" <<'EOF'
import json, statistics, sys
path, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(path) if l.startswith("{")]

def per_round(bench, impl, dtype, key):
    return {r["round"]: r[key] for r in rows
            if r.get("bench") == bench and r.get("impl") == impl and r.get("dtype") == dtype and key in r}

def med(values):
    return statistics.median(values) if values else None

ours_f32 = per_round("decode", "tunekit", "f32", "tokens_per_s")
torch_f32 = per_round("decode", "pytorch", "f32", "decode_tokens_per_s")
ratios = [ours_f32[r] / torch_f32[r] for r in ours_f32 if r in torch_f32]  # same-round pairs
fraction = {d: med(list(per_round("decode", "tunekit", d, "fraction_of_bound").values())) for d in ("f32", "q8_0")}
prefill = {d: med(list(per_round("prefill", "tunekit", d, "fraction_of_gemm_peak").values())) for d in ("f32", "q8_0")}
ratio = med(ratios)
checks = {
    "f32_fraction_of_bound_ge_0.70": None if fraction["f32"] is None else fraction["f32"] >= 0.70,
    "q8_0_fraction_of_bound_ge_0.70": None if fraction["q8_0"] is None else fraction["q8_0"] >= 0.70,
    "f32_vs_pytorch_ge_2.0": None if ratio is None else ratio >= 2.0,
}
print(json.dumps({
    "bench": "decode_compare_summary", "threads": threads, "rounds": rounds,
    "cpu": next((r["cpu"] for r in rows if r.get("bench") == "machine"), None),
    "load_avg_1min_per_round": [r["load_avg_1min"] for r in rows if r.get("bench") == "machine"],
    "tunekit_f32_tokens_per_s": med(list(ours_f32.values())),
    "tunekit_q8_0_tokens_per_s": med(list(per_round("decode", "tunekit", "q8_0", "tokens_per_s").values())),
    "pytorch_f32_tokens_per_s": med(list(torch_f32.values())),
    "tunekit_over_pytorch_f32": ratio, "tunekit_over_pytorch_f32_per_round": ratios,
    "fraction_of_bound_f32": fraction["f32"], "fraction_of_bound_q8_0": fraction["q8_0"],
    "prefill_fraction_of_gemm_peak_f32": prefill["f32"], "prefill_fraction_of_gemm_peak_q8_0": prefill["q8_0"],
    "fraction_of_bound_per_round": {d: per_round("decode", "tunekit", d, "fraction_of_bound") for d in ("f32", "q8_0")},
    "matmul_only_fraction_of_bound": {d: med(list(per_round("decode", "tunekit", d, "matmul_only_fraction_of_bound").values()))
                                      for d in ("f32", "q8_0")},
    "other_ms_per_token": {d: med(list(per_round("decode", "tunekit", d, "other_ms_per_token").values()))
                           for d in ("f32", "q8_0")},
    "checks": checks, "pass": all(v is True for v in checks.values()),
}))
EOF
