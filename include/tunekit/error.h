// tunekit::Error: the one exception type the library throws. Messages name the thing that is wrong
// (a file, a tensor, a flag) and, where there is one, the fix. Only main() and the server turn
// errors into exit codes or HTTP statuses; library code never calls exit() or abort().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tunekit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// fail("model.safetensors: tensor '", name, "' has ", n, " bytes, expected ", m) throws Error.
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  throw Error(out.str());
}

// check(cond, parts...) throws Error(parts...) when cond is false.
template <class... Parts>
void check(bool cond, const Parts&... parts) {
  if (!cond) fail(parts...);
}

}  // namespace tunekit
