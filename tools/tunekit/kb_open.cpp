#include "kb_open.h"

#include <algorithm>
#include <cstdio>

#include "tunekit/core/progress.h"
#include "tunekit/error.h"
#include "tunekit/rag/encoder.h"

namespace tunekit::cli {

KbSearcher::KbSearcher(const std::string& kb_dir, rag::RetrievalMode mode, const std::string& encoder_dir)
    : KbSearcher(kb_dir, std::vector<rag::RetrievalMode>{mode}, encoder_dir) {}

KbSearcher::KbSearcher(const std::string& kb_dir, const std::vector<rag::RetrievalMode>& modes,
                       const std::string& encoder_dir)
    : kb_(rag::KnowledgeBase::open(kb_dir, false)) {
  auto needs = [&](rag::RetrievalMode m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
  if (needs(rag::RetrievalMode::Dense) || needs(rag::RetrievalMode::Hybrid)) {
    dense_ = rag::open_dense_side(*kb_, encoder_dir);
    check(dense_.encoder || !needs(rag::RetrievalMode::Dense), "dense retrieval: ", dense_.warning);
    if (!dense_.warning.empty())  // no encoder: hybrid runs as BM25 (the Retriever's own warning, with the cause)
      std::fprintf(stderr, "tunekit: warning: %s%s\n", dense_.encoder ? "" : "hybrid retrieval fell back to BM25 alone: ",
                   dense_.warning.c_str());
  }
  retriever_ = std::make_unique<rag::Retriever>(*kb_, dense_.encoder.get(), dense_.index.get());
}

void sync_vectors_if_embedded(rag::KnowledgeBase& kb, const std::string& encoder_flag) {
  const std::optional<std::string> encoder_dir =
      encoder_flag.empty() ? kb.meta("encoder") : std::optional<std::string>(encoder_flag);
  if (!encoder_dir) return;
  auto encoder = rag::SentenceEncoder::load(*encoder_dir);
  rag::SyncOptions sync;
  sync.progress = stderr;
  sync.progress_terminal = stderr_is_terminal();
  rag::SyncStats stats = rag::embed_knowledge_base(kb, *encoder, *encoder_dir, sync);
  if (!stats.rebuilt_because.empty())
    std::fprintf(stderr, "tunekit: the old vector index was replaced: %s\n", stats.rebuilt_because.c_str());
  std::fprintf(stderr, "vectors: %lld embedded, %lld removed, %lld in the index (encoder %s)\n", (long long)stats.added,
               (long long)stats.removed, (long long)stats.total, encoder->name().c_str());
}

}  // namespace tunekit::cli
