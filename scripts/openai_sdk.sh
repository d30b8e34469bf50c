#!/usr/bin/env bash
# Checks `tunekit serve` with the official openai npm SDK (tests/server/openai_sdk/, pinned in its
# package-lock.json): a tiny random Llama with TinyLlama-chat's tokenizer and chat template is
# served on a free port with an API key, and tests/server/openai_sdk/openai_sdk.mjs runs models,
# chat (plain and streamed), completion (plain and streamed), token logprobs, embeddings, error
# checks, and a LoRA load/unload round trip (an adapter trained for two steps by `tunekit train`) against it.
#   bash scripts/openai_sdk.sh                  tunekit from build/ (TUNEKIT=/path/to/tunekit to pick one)
# Needs node >= 20 and npm, and ../shared/tokenizers/tinyllama-1.1b-chat. Exits 1 on a failed
# check, 2 on a setup problem.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/serve_helpers.sh
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "openai_sdk: $tool not found (node >= 20 and npm are needed)" >&2; exit 2; }
done
tok=../shared/tokenizers/tinyllama-1.1b-chat
[ -f "$tok/tokenizer.json" ] || { echo "openai_sdk: $tok is missing" >&2; exit 2; }
tunekit=${TUNEKIT:-build/bin/tunekit}
[ -x "$tunekit" ] || { echo "openai_sdk: $tunekit not built (cmake --build build --target tunekit_cli)" >&2; exit 2; }

dir=tests/server/openai_sdk
npm_ci_pinned "$dir"

make_work_dir
cat > "$work/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "vocab_size": 32000, "hidden_size": 32, "intermediate_size": 64,
 "num_hidden_layers": 1, "num_attention_heads": 2}
JSON
"$tunekit" init --config "$work/config.json" --out "$work/tiny-chat" >/dev/null
for i in $(seq 40); do echo "The femur is the longest bone of the body; it carries the weight of the trunk."; done > "$work/bones.txt"
"$tunekit" train --model "$work/tiny-chat" --tokenizer "$tok" --data "$work/bones.txt" --seq-len 32 --batch-size 2 \
    --max-steps 2 --lr 1e-2 --out "$work/adapters/bones-run" >/dev/null 2>&1
"$tunekit" serve --model "$work/tiny-chat" --tokenizer "$tok" --port 0 --api-key sk-openai-sdk \
    --adapter-dir "$work/adapters" 2>"$work/serve.log" &
server_pid=$!
port=$(wait_for_port "$server_pid" "$work/serve.log" openai_sdk) || exit 2
node "$dir/openai_sdk.mjs" "http://127.0.0.1:$port/v1" sk-openai-sdk tiny-chat "$work/adapters/bones-run/final"
