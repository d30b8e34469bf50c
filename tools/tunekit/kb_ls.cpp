// tunekit kb ls --kb KB [--json]: the documents in a knowledge base with their kind, pages and chunks.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "tunekit/rag/store.h"
#include "verbs.h"

namespace tunekit::cli {

void add_kb_ls(CLI::App& kb) {
  struct Args {
    std::string kb;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = kb.add_subcommand("ls", "List the documents in a knowledge base");
  cmd->add_option("--kb", a->kb, "the knowledge-base folder")->required();
  cmd->add_flag("--json", a->json, "one JSON object per document");
  cmd->callback([a] {
    auto base = rag::KnowledgeBase::open(a->kb, false);
    const auto docs = base->documents();
    if (!a->json) std::printf("%-48s %-9s %6s %7s  %s\n", "document", "kind", "pages", "chunks", "title");
    for (const auto& d : docs) {
      const int64_t chunks = base->document_chunk_count(d.id);
      if (a->json) {
        const nlohmann::json j = {{"name", d.name},         {"kind", d.kind},   {"pages", d.n_pages},
                                  {"chunks", chunks},       {"title", d.title}, {"path", d.path},
                                  {"content_hash", d.content_hash}};
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      } else {
        std::printf("%-48s %-9s %6lld %7lld  %s\n", d.name.c_str(), d.kind.c_str(), (long long)d.n_pages,
                    (long long)chunks, d.title.c_str());
      }
    }
    if (!a->json) std::printf("%zu documents, %lld chunks\n", docs.size(), (long long)base->chunk_count());
  });
}

}  // namespace tunekit::cli
