#include "test_paths.h"

#include <unistd.h>

namespace tunekit::test {

std::filesystem::path shared_dir() { return TUNEKIT_SHARED_DIR; }
std::filesystem::path source_dir() { return TUNEKIT_SOURCE_DIR; }
std::filesystem::path golden_dir() { return source_dir() / "tests" / "golden"; }
std::filesystem::path cli_path() { return std::filesystem::path(TUNEKIT_BINARY_DIR) / "bin" / "tunekit"; }

std::filesystem::path temp_dir(const std::string& name) {
  // ctest runs tests of one suite in parallel processes: the pid keeps their folders apart.
  auto dir = std::filesystem::path(TUNEKIT_BINARY_DIR) / "test-tmp" / (name + "." + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace tunekit::test
