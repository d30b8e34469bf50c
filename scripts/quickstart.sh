#!/usr/bin/env bash
# The main job on a bundled default: install, build, then generate a story with the real
# stories260K model from ../shared (greedy, 200 tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
model=../shared/models/stories260K
if [ -f "$model/stories260K.bin" ]; then
  ./build/bin/tunekit generate --model "$model/stories260K.bin" --tokenizer "$model/tok512.bin" \
    --prompt "" --max-tokens 200 --temperature 0
else
  echo "quickstart: $model is not here; run a model of your own with" >&2
  echo "  ./build/bin/tunekit generate --model PATH/TO/MODEL_DIR_OR_GGUF --prompt \"Once upon a time\"" >&2
fi
