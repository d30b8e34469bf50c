// ProgressBar and resident memory (see progress.h).
#include "tunekit/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace tunekit {

int64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * int64_t(::sysconf(_SC_PAGESIZE));
}

bool stderr_is_terminal() { return ::isatty(2) == 1; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const int64_t s = int64_t(seconds + 0.5);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
  return buf;
}

ProgressBar::ProgressBar(std::FILE* out, int64_t total, bool terminal, double plain_interval_s)
    : out_(out), total_(std::max<int64_t>(1, total)), terminal_(terminal), interval_s_(plain_interval_s),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::render(int64_t done, const std::string& fields) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t since = done - first_done_;
  const double eta = since > 0 ? elapsed / double(since) * double(total_ - done) : -1;
  char head[64];
  std::snprintf(head, sizeof head, "%lld/%lld %3d%%", (long long)done, (long long)total_,
                int(100 * done / total_));
  std::string line;
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = int(kWidth * done / total_);
    line.push_back('[');
    line.append(size_t(filled), '=');
    if (filled < kWidth) line += '>';
    line.append(size_t(std::max(0, kWidth - filled - 1)), ' ');
    line += "] ";
  }
  line += head;
  if (!fields.empty()) line += " | " + fields;
  line += " | ETA " + (done >= total_ ? std::string("0s") : format_duration(eta));
  return line;
}

void ProgressBar::update(int64_t done, const std::string& fields) {
  const auto now = std::chrono::steady_clock::now();
  if (first_done_ < 0) {
    first_done_ = done;
    start_ = now;
    last_plain_ = now - std::chrono::hours(1);  // the first plain line prints at once
  }
  if (terminal_) {
    last_ = render(done, fields);
    std::fprintf(out_, "\r\033[K%s", last_.c_str());
    drawn_ = true;
  } else if (done >= total_ || std::chrono::duration<double>(now - last_plain_).count() >= interval_s_) {
    std::fprintf(out_, "%s\n", render(done, fields).c_str());
    last_plain_ = now;
  }
  std::fflush(out_);
}

void ProgressBar::print_line(const std::string& line) {
  if (terminal_ && drawn_) {
    std::fprintf(out_, "\r\033[K%s\n%s", line.c_str(), last_.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (terminal_ && drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
  std::fflush(out_);
}

}  // namespace tunekit
