// Progress of a long loop on a stream: a bar redrawn in place on a terminal, plain lines at a
// steady pace elsewhere (logs, pipes); and the process's resident memory for such lines.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tunekit {

// Resident set size of this process in bytes (Linux /proc/self/statm); 0 where unknown.
int64_t resident_memory_bytes();
// "45s", "3m05s", "2h07m".
std::string format_duration(double seconds);
// Whether stderr is a terminal: a redrawn bar there, plain lines in logs and pipes.
bool stderr_is_terminal();

class ProgressBar {
 public:
  // total: the count that means done. terminal: redraw one line in place (else plain lines, at most
  // one per plain_interval_s seconds, plus the last).
  ProgressBar(std::FILE* out, int64_t total, bool terminal, double plain_interval_s = 10.0);
  // done of total, with caller-formatted fields ("loss 2.31 | lr 2e-04"); the ETA comes from the
  // pace since the first update (so a resumed loop starting at done > 0 estimates correctly).
  void update(int64_t done, const std::string& fields);
  // A line of its own (a message) without breaking the bar: the bar is redrawn below it.
  void print_line(const std::string& line);
  // Ends the bar's line on a terminal.
  void finish();

 private:
  std::string render(int64_t done, const std::string& fields) const;
  std::FILE* out_;
  int64_t total_;
  bool terminal_;
  double interval_s_;
  std::chrono::steady_clock::time_point start_, last_plain_;
  int64_t first_done_ = -1;
  bool drawn_ = false;
  std::string last_;  // the bar as last drawn (terminal)
};

}  // namespace tunekit
