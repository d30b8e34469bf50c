#include "cli_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_paths.h"

namespace tunekit::test {

namespace {

// Built with append() only: GCC 12's -Wrestrict misfires on operator+ of string temporaries (PR 105651).
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.append("'\\''");
    else out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args) {
  static int counter = 0;
  auto dir = std::filesystem::path(TUNEKIT_BINARY_DIR) / "test-tmp" / "cli-io";
  std::filesystem::create_directories(dir);
  std::string tag = std::to_string(getpid());
  tag.append("-").append(std::to_string(counter++));
  auto out = dir / std::string("out-").append(tag), err = dir / std::string("err-").append(tag);
  std::string cmd = shell_quote(cli_path().string());
  for (const auto& a : args) cmd.append(" ").append(shell_quote(a));
  cmd.append(" </dev/null >").append(shell_quote(out.string())).append(" 2>").append(shell_quote(err.string()));
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace tunekit::test
