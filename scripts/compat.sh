#!/usr/bin/env bash
# Checks that the GGUF files `tunekit convert` writes load and run correctly in llama.cpp
# (docs/compat.md). llama.cpp comes as prebuilt CPU binaries inside the npm package node-llama-cpp,
# pinned in compat/package-lock.json; nothing is compiled or downloaded except those npm packages.
#   bash scripts/compat.sh                           tunekit from build/ (built if missing or stale)
#   TUNEKIT_BUILD_DIR=build-x bash scripts/compat.sh another build folder
#   TUNEKIT=/path/to/tunekit bash scripts/compat.sh  this binary, no build
#   COMPAT_WORK=/tmp/compat bash scripts/compat.sh   where the GGUF files and results go (default out/compat)
# Needs what scripts/setup.sh installs, plus node >= 20 and npm, and ../shared/models/stories260K.
# Prints PASS / FAIL / INFO lines and a summary; exits 1 on any mismatch, 2 on a setup problem.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "compat: $tool not found (node >= 20 and npm are needed)" >&2; exit 2; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "compat: node $(node --version) is too old (need >= 20)" >&2; exit 2; }
[ -f ../shared/models/stories260K/stories260K.bin ] ||
  echo "compat: ../shared/models/stories260K is missing: the stories260K checks will FAIL" >&2

# node-llama-cpp: use the prebuilt CPU binary only; never probe GPUs, build or download llama.cpp.
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true NODE_LLAMA_CPP_GPU=false NODE_LLAMA_CPP_POSTINSTALL=skip

# 1. npm dependencies, exactly as locked. --omit=optional skips node-llama-cpp's CUDA / Vulkan /
# other-platform binary packages (the linux-x64 CPU one is a direct dependency); --ignore-scripts
# skips its postinstall step, which would otherwise try to build llama.cpp from source.
stamp=compat/node_modules/.tunekit-compat-lock
if ! cmp -s compat/package-lock.json "$stamp" 2>/dev/null; then
  echo "compat: npm ci in compat/" >&2
  (cd compat && npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp compat/package-lock.json "$stamp"
fi

# 2. tunekit
if [ -n "${TUNEKIT:-}" ]; then
  tunekit=$TUNEKIT
else
  build_dir=${TUNEKIT_BUILD_DIR:-build}
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build_dir" --target tunekit_cli -j"$(nproc)" >/dev/null
  tunekit=$build_dir/bin/tunekit
fi
[ -x "$tunekit" ] || { echo "compat: $tunekit is not an executable" >&2; exit 2; }

# 3. convert + compare
work=${COMPAT_WORK:-out/compat}
mkdir -p "$work"
rc=0
node compat/check.mjs --tunekit "$tunekit" --work "$work" || rc=$?
echo "compat: total $(($(date +%s) - start)) s (npm, build and checks)"
exit "$rc"
