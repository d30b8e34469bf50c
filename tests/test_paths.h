// Paths the tests need: the shared/ folder (real models and data), the source tree (golden files)
// and the built CLI. Tests that need ../shared call TUNEKIT_REQUIRE_SHARED(relpath) to skip with a
// clear reason where it is absent.
#pragma once
#include <filesystem>
#include <string>

namespace tunekit::test {

std::filesystem::path shared_dir();   // TUNEKIT_SHARED_DIR
std::filesystem::path source_dir();   // project root
std::filesystem::path golden_dir();   // tests/golden
std::filesystem::path cli_path();     // build/bin/tunekit
std::filesystem::path temp_dir(const std::string& name);  // fresh empty folder under the build tree, one per process

}  // namespace tunekit::test

#define TUNEKIT_REQUIRE_SHARED(rel)                                                          \
  do {                                                                                       \
    if (!std::filesystem::exists(::tunekit::test::shared_dir() / (rel)))                     \
      GTEST_SKIP() << "skipped: " << (::tunekit::test::shared_dir() / (rel)).string()         \
                   << " is absent (../shared is not next to the checkout)";                  \
  } while (0)
