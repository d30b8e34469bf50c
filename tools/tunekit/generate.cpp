#include "tunekit/error.h"
#include "verbs.h"

namespace tunekit::cli {

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "(not built yet)");
  cmd->callback([] { fail("tunekit generate is not built yet"); });
}

}  // namespace tunekit::cli
