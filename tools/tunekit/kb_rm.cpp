// tunekit kb rm NAME... --kb KB: removes documents (by the name `kb ls` shows) with their pages and
// chunks, one transaction each, and their vectors where the base has a vector index.
#include <cstdio>
#include <memory>

#include "tunekit/error.h"
#include "tunekit/rag/store.h"
#include "kb_open.h"
#include "verbs.h"

namespace tunekit::cli {

void add_kb_rm(CLI::App& kb) {
  struct Args {
    std::vector<std::string> names;
    std::string kb;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = kb.add_subcommand("rm", "Remove documents from a knowledge base");
  cmd->add_option("names", a->names, "document names as `tunekit kb ls` shows them")->required();
  cmd->add_option("--kb", a->kb, "the knowledge-base folder")->required();
  cmd->callback([a] {
    auto base = rag::KnowledgeBase::open(a->kb, false);
    for (const auto& name : a->names)
      check(base->find_document(name).has_value(), a->kb, ": no document named '", name, "' (see tunekit kb ls --kb ",
            a->kb, ")");
    for (const auto& name : a->names) {
      base->remove_document(name);
      std::printf("removed %s\n", name.c_str());
    }
    sync_vectors_if_embedded(*base, "");
  });
}

}  // namespace tunekit::cli
