// `tunekit serve` as a subprocess for the CLI tests: started with arguments, its port read from
// its stderr line, stopped with a signal.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "test_paths.h"

namespace tunekit::test {

// The binary running with its stderr on a pipe; killed on destruction if still alive.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      std::vector<std::string> all = {test::cli_path().string(), "serve"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    err_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_ >= 0) close(err_);
  }
  // Reads stderr until the "on http://HOST:PORT" line; returns the port (-1 if the process ended).
  int wait_for_port() {
    static const std::regex listening(R"(on http://[0-9.]+:([0-9]+))");
    char buf[512];
    for (ssize_t n; (n = read(err_, buf, sizeof buf)) > 0;) {
      stderr_.append(buf, size_t(n));
      std::smatch m;
      if (std::regex_search(stderr_, m, listening)) return std::stoi(m[1]);
    }
    return -1;
  }
  // Sends sig and waits; returns the exit code (128 + signal when killed by one).
  int stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    char buf[512];
    for (ssize_t n; (n = read(err_, buf, sizeof buf)) > 0;) stderr_.append(buf, size_t(n));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& err() const { return stderr_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  bool exited_ = false;
  std::string stderr_;
};

}  // namespace tunekit::test
