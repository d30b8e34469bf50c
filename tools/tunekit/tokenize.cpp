#include "tunekit/error.h"
#include "verbs.h"

namespace tunekit::cli {

void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "(not built yet)");
  cmd->callback([] { fail("tunekit tokenize is not built yet"); });
}

}  // namespace tunekit::cli
