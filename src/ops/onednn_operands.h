// oneDNN is not built with AddressSanitizer, so a product whose operand is described larger than
// its buffer would read or write past the end unseen. In ASan builds, expect_operand checks before
// each oneDNN call that every float the call may touch is addressable, and aborts with ASan's stack
// otherwise; in other builds it is nothing.
#pragma once
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

#include <cstdio>
#include <cstdlib>
#endif

namespace tunekit::ops {

// A row-major operand of `rows` rows of `cols` floats, ld floats apart.
inline void expect_operand([[maybe_unused]] const float* p, [[maybe_unused]] int64_t rows,
                           [[maybe_unused]] int64_t cols, [[maybe_unused]] int64_t ld,
                           [[maybe_unused]] const char* what) {
#if defined(__SANITIZE_ADDRESS__)
  if (rows <= 0 || cols <= 0) return;
  const size_t bytes = size_t((rows - 1) * ld + cols) * sizeof(float);
  if (const void* bad = __asan_region_is_poisoned(const_cast<float*>(p), bytes)) {
    std::fprintf(stderr, "oneDNN operand %s [%lld rows x %lld, ld %lld] at %p reaches unaddressable memory at %p\n",
                 what, (long long)rows, (long long)cols, (long long)ld, static_cast<const void*>(p), bad);
    __asan_describe_address(const_cast<void*>(bad));
    __sanitizer_print_stack_trace();
    std::abort();
  }
#endif
}

}  // namespace tunekit::ops
