#!/usr/bin/env bash
# Install, build and run the test suite (what .ci/run calls):
#   1. the GoogleTest suites through ctest (long soak and speed runs carry the label "slow" and
#      are left out);
#   2. the llama.cpp compatibility check of our GGUF output (scripts/compat.sh; needs node >= 20,
#      skipped with a message where there is none);
#   3. tunekit serve through the official openai npm SDK (scripts/openai_sdk.sh; needs node >= 20,
#      skipped with a message where there is none);
#   4. the chat page of tunekit serve in headless Chromium (scripts/web_ui.sh; needs node >= 20 and
#      chromium, skipped with a message where either is missing);
#   5. a short smoke run of every libFuzzer target under ASan/UBSan (scripts/fuzz.sh --smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p build/test-logs
(cd build && ctest -j"$(nproc)" --output-on-failure --timeout 600 -LE "slow") | tee build/test-logs/ctest.log
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
  bash scripts/compat.sh
  bash scripts/openai_sdk.sh
  if command -v chromium >/dev/null; then
    bash scripts/web_ui.sh
  else
    echo "test: web page check skipped: chromium is not installed" >&2
  fi
else
  echo "test: llama.cpp compatibility check, openai SDK and web page checks skipped: node >= 20 is not installed" >&2
fi
bash scripts/fuzz.sh --smoke
# The closing line CI reads: every step above passed (set -e stops at the first failure).
n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' build/test-logs/ctest.log)
echo "tests: ${n:-0} passed, 0 failed"
