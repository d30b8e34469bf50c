#include "tunekit/error.h"
#include "verbs.h"

namespace tunekit::cli {

void add_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "(not built yet)");
  cmd->callback([] { fail("tunekit convert is not built yet"); });
}

}  // namespace tunekit::cli
