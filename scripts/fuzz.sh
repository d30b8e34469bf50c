#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.cpp) with clang, ASan and UBSan into build-fuzz/ and
# runs each one on its seeds (fuzz/corpus/<name>/, plus what earlier runs found).
#   bash scripts/fuzz.sh                   120 s per target
#   bash scripts/fuzz.sh --smoke           15 s per target (scripts/test.sh runs this in CI)
#   bash scripts/fuzz.sh --time N [NAME..] N seconds per target, only the named targets (e.g. gguf)
# Exits non-zero when any target crashes, hangs (> 10 s on one input), runs out of memory or fails
# to build; the reproducer is kept under build-fuzz/artifacts/<name>/ and the log in build-fuzz/.
# Re-run one reproducer with: build-fuzz/fuzz/fuzz_<name> build-fuzz/artifacts/<name>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

secs=120
seed=()   # --smoke fixes libFuzzer's seed so that CI explores the same inputs first each run
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) secs=15; seed=(-seed=1) ;;
    --time) secs="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) only+=("$1") ;;
  esac
  shift
done

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUNEKIT_FUZZ=ON \
  -DTUNEKIT_TESTS=OFF -DTUNEKIT_BENCH=OFF -DTUNEKIT_NATIVE=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target tunekit_fuzzers

failed=()
ran=0
for src in fuzz/fuzz_*.cpp; do
  stem=$(basename "$src" .cpp)
  name=${stem#fuzz_}
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  bin=build-fuzz/fuzz/$stem
  corpus=build-fuzz/corpus/$name
  artifacts=build-fuzz/artifacts/$name
  log=build-fuzz/$stem.log
  mkdir -p "$corpus" "$artifacts"
  args=("$corpus")
  [ -d "fuzz/corpus/$name" ] && args+=("fuzz/corpus/$name")
  [ -f "fuzz/$name.dict" ] && args+=("-dict=fuzz/$name.dict")
  echo "fuzz: $name for ${secs}s" >&2
  ran=$((ran + 1))
  if "$bin" "${args[@]}" "${seed[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    echo "fuzz: $name ok ($runs inputs)"
  else
    echo "fuzz: $name FAILED (log: $log, reproducer in $artifacts/):" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal|#[0-9]+ 0x' "$log" | head -40 >&2 || tail -40 "$log" >&2
    failed+=("$name")
  fi
done

if [ "$ran" -eq 0 ]; then
  echo "fuzz: no target matched ${only[*]:-}" >&2
  exit 2
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all $ran target(s) ran clean"
