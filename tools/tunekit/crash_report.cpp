// A crash says where it happened: on a fatal signal the process writes the signal's name and a
// backtrace of the crashing thread to stderr, then dies of the same signal (the exit status and any
// core dump stay what they would have been). A user's bug report, or a CI log, then carries the
// stack instead of a bare "Segmentation fault".
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "verbs.h"

namespace tunekit::cli {

namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr int kMaxFrames = 64;

void write_text(const char* s) { [[maybe_unused]] const ssize_t n = ::write(2, s, std::strlen(s)); }

// Only async-signal-safe calls, apart from backtrace(), whose one-time set-up (loading libgcc) was
// done by install_crash_report.
extern "C" void report_crash(int sig) {
  write_text("\ntunekit: fatal signal ");
  write_text(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  write_text(" (");
  write_text(sigdescr_np(sig) ? sigdescr_np(sig) : "unknown");
  write_text("); backtrace of the thread that received it (please include it in a bug report):\n");
  void* frames[kMaxFrames];
  backtrace_symbols_fd(frames, backtrace(frames, kMaxFrames), 2);
  ::raise(sig);  // SA_RESETHAND restored the default action: the process ends as it would have
}

}  // namespace

void install_crash_report() {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // theirs report a crash better
  void* warm_up[1];
  backtrace(warm_up, 1);
  // Its own stack, so that a stack overflow is reported too.
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  ::sigaltstack(&ss, nullptr);
  for (int sig : kFatalSignals) {
    struct sigaction sa {};
    sa.sa_handler = report_crash;
    sa.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
#endif
}

}  // namespace tunekit::cli
