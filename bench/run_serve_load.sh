#!/usr/bin/env bash
# The serving load test of issue 5: trains two small LoRA adapters for stories260K with
# `tunekit train` (a few steps each, different seeds and modules), serves stories260K with both on a
# free loopback port, runs bench_serve_load with 64 streaming clients over base/adapter1/adapter2 for
# 120 s, stops the server (SIGTERM: it drains and exits 0) and prints the tool's JSON lines, each
# tagged with the engine the server ran ("engine": "batch" or "serial").
#   bench/run_serve_load.sh [--clients 64] [--duration 120] [--max-tokens 64] [--temperature 0.8]
#                           [--endpoint completions] [--build-dir DIR] [--no-build]
# ENGINE=batch|serial picks the server's engine through `tunekit serve --engine` where serve has that
# flag; a serve without it runs its SerialEngine (and the lines say "serial").
# Builds tunekit_cli and bench_serve_load (Release) in DIR (default build-bench) first if they are out
# of date, unless --no-build. Needs ../shared (or TUNEKIT_SHARED): without it, exits 77 (ctest's
# skip). Otherwise exits with bench_serve_load's status (1 when any request failed), or 1 when the
# server does not exit 0 on SIGTERM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib/serve_helpers.sh"
clients=64 duration=120 max_tokens=64 temperature=0.8 endpoint=completions build=$root/build-bench do_build=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) do_build=0; shift; continue ;;
    --clients) clients=$2 ;;
    --duration) duration=$2 ;;
    --max-tokens) max_tokens=$2 ;;
    --temperature) temperature=$2 ;;
    --endpoint) endpoint=$2 ;;
    --build-dir) build=$2 ;;
    *) echo "run_serve_load.sh: unknown argument '$1' (see the header of this script)" >&2; exit 2 ;;
  esac
  shift 2
done
shared=${TUNEKIT_SHARED:-$root/../shared}
model=$shared/models/stories260K/stories260K.bin
tokenizer=$shared/models/stories260K/tok512.bin
text=$shared/data/docs/grays-anatomy-1918-osteology.txt
for f in "$model" "$tokenizer" "$text"; do
  [ -f "$f" ] || { echo "run_serve_load.sh: $f is missing (set TUNEKIT_SHARED to the shared folder); skipped" >&2; exit 77; }
done

if [ $do_build = 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTUNEKIT_TESTS=OFF -DTUNEKIT_BENCH=ON >/dev/null
  cmake --build "$build" -j2 --target tunekit_cli bench_serve_load >&2
fi
tunekit=$build/bin/tunekit
load=$build/bin/bench_serve_load

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Two adapters that differ in seed and in the modules they adapt, 8 steps each on Gray's Anatomy.
train() {  # NAME SEED TARGETS
  "$tunekit" train --model "$model" --tokenizer "$tokenizer" --data "$text" --target "$3" --seq-len 128 \
    --batch-size 4 --lr 5e-3 --max-steps 8 --seed "$2" --log-format none --out "$work/$1" >/dev/null
}
train adapter1 1 all-linear
train adapter2 2 q_proj,v_proj,o_proj

: >"$work/serve.log"  # exists before the server writes to it (the port is read from it below)
engine=serial engine_flag=()
serve_help=$("$tunekit" serve --help)
if [[ $serve_help == *--engine* ]]; then
  engine=${ENGINE:-batch}
  engine_flag=(--engine "$engine")
fi
"$tunekit" serve --model "$model" --tokenizer "$tokenizer" --adapter "adapter1=$work/adapter1/final" \
  --adapter "adapter2=$work/adapter2/final" --port 0 --max-tokens-limit "$max_tokens" "${engine_flag[@]}" \
  2>"$work/serve.log" &
server_pid=$!
port=$(wait_for_port "$server_pid" "$work/serve.log" run_serve_load.sh) || exit 2

status=0
"$load" --url "http://127.0.0.1:$port" --clients "$clients" --duration "$duration" --models stories260K,adapter1,adapter2 \
  --endpoint "$endpoint" --max-tokens "$max_tokens" --temperature "$temperature" --server-pid "$server_pid" \
  >"$work/load.jsonl" || status=$?
sed "s/^{/{\"engine\":\"$engine\",/" "$work/load.jsonl"

kill "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
[ $server_status = 0 ] || { echo "run_serve_load.sh: the server exited with $server_status" >&2; cat "$work/serve.log" >&2; status=1; }
exit $status
