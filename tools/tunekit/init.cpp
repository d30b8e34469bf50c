#include "tunekit/error.h"
#include "verbs.h"

namespace tunekit::cli {

void add_init(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "(not built yet)");
  cmd->callback([] { fail("tunekit init is not built yet"); });
}

}  // namespace tunekit::cli
