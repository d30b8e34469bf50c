#!/usr/bin/env bash
# Install, build and run the test suite (what .ci/run calls). Long soak, fuzz and speed runs are
# behind ctest labels and not run here, except a short smoke run of each fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest -j"$(nproc)" --output-on-failure --timeout 600 -LE "slow")
if [ -x scripts/fuzz.sh ]; then
  bash scripts/fuzz.sh --smoke
fi
