// Runs the built tunekit binary with arguments and captures exit code, stdout and stderr.
#pragma once
#include <string>
#include <vector>

namespace tunekit::test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

CliResult run_cli(const std::vector<std::string>& args);

}  // namespace tunekit::test
