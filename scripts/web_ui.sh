#!/usr/bin/env bash
# Checks the chat page of `tunekit serve` (GET /) in headless Chromium, driven by playwright-core
# (tests/server/web/, pinned in its package-lock.json): stories260K is served with a knowledge base
# ingested from ../shared/data/docs and an API key, and tests/server/web/web_ui.mjs loads the page,
# types the key, picks the knowledge base, asks about blood glucose, waits for the streamed answer and checks its text and a
# page-numbered source of niddk-eating-and-diabetes.pdf. The screenshot goes to build/test-logs/web_ui.png.
#   bash scripts/web_ui.sh                  tunekit from build/ (TUNEKIT=/path/to/tunekit to pick one)
# Needs node >= 20 and npm, Debian's chromium (CHROMIUM=/path to pick another), and ../shared.
# Exits 1 on a failed check, 2 on a setup problem.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/serve_helpers.sh
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "web_ui: $tool not found (node >= 20 and npm are needed)" >&2; exit 2; }
done
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "web_ui: $chromium not found (apt-get install chromium)" >&2; exit 2; }
model=../shared/models/stories260K
docs=../shared/data/docs
for f in "$model/stories260K.bin" "$model/tok512.bin" "$docs/niddk-eating-and-diabetes.pdf"; do
  [ -f "$f" ] || { echo "web_ui: $f is missing" >&2; exit 2; }
done
tunekit=${TUNEKIT:-build/bin/tunekit}
[ -x "$tunekit" ] || { echo "web_ui: $tunekit not built (cmake --build build --target tunekit_cli)" >&2; exit 2; }

dir=tests/server/web
npm_ci_pinned "$dir"

make_work_dir
"$tunekit" kb ingest "$docs" --kb "$work/docs-kb" >/dev/null 2>"$work/ingest.log" || { cat "$work/ingest.log" >&2; exit 2; }
"$tunekit" serve --model "$model/stories260K.bin" --tokenizer "$model/tok512.bin" --kb "docs=$work/docs-kb" \
  --port 0 --default-max-tokens 48 --api-key sk-web-ui 2>"$work/serve.log" &
server_pid=$!
port=$(wait_for_port "$server_pid" "$work/serve.log" web_ui) || exit 2
mkdir -p build/test-logs
CHROMIUM=$chromium node "$dir/web_ui.mjs" "http://127.0.0.1:$port" sk-web-ui docs niddk-eating-and-diabetes.pdf \
  build/test-logs/web_ui.png
