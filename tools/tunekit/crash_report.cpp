// A crash says where it happened: on a fatal signal the process writes the signal's name and a
// backtrace of the crashing thread to stderr, then dies of the same signal (the exit status and any
// core dump stay what they would have been). A user's bug report, or a CI log, then carries the
// stack instead of a bare "Segmentation fault".
// The unwinder stops at code without unwind information, such as oneDNN's generated kernels, where
// much of a training step runs. When the backtrace reaches such a frame and the thread is the main
// one, the words of its stack from the interrupted frame up to main's are scanned as well, and
// those that point into tunekit's own code are listed as the likely frames above it.
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "verbs.h"

extern "C" char __executable_start, etext;  // tunekit's code, from the linker

namespace tunekit::cli {

namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr int kMaxFrames = 64;
constexpr int kMaxScanned = 256;         // words into tunekit's code listed from the stack scan
constexpr uintptr_t kAboveMain = 4096;  // bytes past install_crash_report's frame: main's own frame

uintptr_t main_stack_top = 0;  // install_crash_report's frame address, just below main's frame

void write_text(const char* s) { [[maybe_unused]] const ssize_t n = ::write(2, s, std::strlen(s)); }

bool in_tunekit_code(uintptr_t address) {
  return address >= reinterpret_cast<uintptr_t>(&__executable_start) && address < reinterpret_cast<uintptr_t>(&etext);
}

// The main thread's stack words from sp up to main's frame that point into tunekit's code, listed as
// frames (by backtrace_symbols_fd). sp on another thread's stack: nothing.
void scan_main_stack(uintptr_t sp) {
  if (main_stack_top == 0 || sp > main_stack_top || main_stack_top - sp > (uintptr_t(64) << 20)) return;
  write_text("tunekit: the backtrace stopped at code without unwind information (generated code); the words "
             "on the stack above it that point into tunekit (return addresses, and some stale values):\n");
  void* found[kMaxScanned];
  int n = 0;
  for (uintptr_t at = sp & ~uintptr_t(7); at < main_stack_top + kAboveMain && n < kMaxScanned; at += 8) {
    const uintptr_t word = *reinterpret_cast<const uintptr_t*>(at);
    if (in_tunekit_code(word)) found[n++] = reinterpret_cast<void*>(word);
  }
  backtrace_symbols_fd(found, n, 2);
}

// Only async-signal-safe calls, apart from backtrace() (its one-time set-up, loading libgcc, was
// done by install_crash_report) and the dladdr that backtrace_symbols_fd makes as well.
extern "C" void report_crash(int sig, siginfo_t*, void* context) {
  write_text("\ntunekit: fatal signal ");
  write_text(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  write_text(" (");
  write_text(sigdescr_np(sig) ? sigdescr_np(sig) : "unknown");
  write_text("); backtrace of the thread that received it (please include it in a bug report):\n");
  void* frames[kMaxFrames];
  const int n = backtrace(frames, kMaxFrames);
  backtrace_symbols_fd(frames, n, 2);
  Dl_info info;
  bool unknown_code = false;  // a frame in no loaded object: the unwinder could go no further
  for (int i = 0; i < n; ++i) unknown_code = unknown_code || dladdr(frames[i], &info) == 0;
#if defined(__x86_64__)
  if (unknown_code && context)
    scan_main_stack(uintptr_t(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RSP]));
#endif
  ::raise(sig);  // SA_RESETHAND restored the default action: the process ends as it would have
}

}  // namespace

void install_crash_report() {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // theirs report a crash better
  void* warm_up[1];
  backtrace(warm_up, 1);
  main_stack_top = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));  // called from main
  // Its own stack, so that a stack overflow is reported too.
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  ::sigaltstack(&ss, nullptr);
  for (int sig : kFatalSignals) {
    struct sigaction sa {};
    sa.sa_sigaction = report_crash;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
#endif
}

}  // namespace tunekit::cli
