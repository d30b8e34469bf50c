// tunekit kb: the knowledge-base verb group. Each sub-verb lives in its own file (kb_<verb>.cpp)
// and is added here.
#include "verbs.h"

namespace tunekit::cli {

void add_kb(CLI::App& app) {
  auto* kb = app.add_subcommand("kb", "Knowledge base: ingest documents, search them (see docs/knowledge-base.md)");
  kb->require_subcommand(1);
  add_kb_ingest(*kb);
  add_kb_rm(*kb);
  add_kb_ls(*kb);
  add_kb_embed(*kb);
  add_kb_search(*kb);
}

}  // namespace tunekit::cli
