#!/usr/bin/env bash
# The test suite under a sanitizer, in its own build folder (not part of CI's run: several times
# slower). Extra arguments go to ctest, e.g. -L server, -R Parallel, -j2.
#   bash scripts/sanitize.sh address [CTEST ARGS]   AddressSanitizer + UBSan, build-asan/; in this
#        build every oneDNN call also checks that its operands lie in addressable memory
#        (src/ops/onednn_operands.h), since oneDNN itself is not instrumented
#   bash scripts/sanitize.sh thread [CTEST ARGS]    ThreadSanitizer, build-tsan/ (suppressions for
#        the uninstrumented oneDNN and libgomp in scripts/tsan.supp)
# Reports go to the failing test's output (ctest --output-on-failure). Long runs ("slow") are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
[ $# -gt 0 ] && shift
case "$kind" in
  address)
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTUNEKIT_SANITIZE=ON >/dev/null
    dir=build-asan ;;
  thread)
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
    export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
    dir=build-tsan ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  *) echo "sanitize.sh: say which sanitizer: address or thread (see --help)" >&2; exit 2 ;;
esac
cmake --build "$dir" -j"$(nproc)"
cd "$dir" && ctest --output-on-failure --timeout 3000 -LE slow "$@"
