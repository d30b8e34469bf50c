#include "tunekit/error.h"
#include "verbs.h"

namespace tunekit::cli {

void add_template(CLI::App& app) {
  auto* cmd = app.add_subcommand("template", "(not built yet)");
  cmd->callback([] { fail("tunekit template is not built yet"); });
}

}  // namespace tunekit::cli
