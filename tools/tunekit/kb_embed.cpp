// tunekit kb embed --kb KB --encoder DIR [--batch-size N]
// Builds or updates the knowledge base's vector index (KB/vectors.hnsw): embeds the chunks it lacks
// with the sentence encoder, drops the ones no longer in the base, and records the encoder so that
// `kb search` and `ask` use it by default. A base embedded with another encoder is re-embedded.

#include <cstdio>
#include <string>

#include "tunekit/core/progress.h"
#include "tunekit/rag/encoder.h"
#include "tunekit/rag/vector_index.h"
#include "verbs.h"

namespace tunekit::cli {
namespace {

struct EmbedArgs {
  std::string kb, encoder;
  int64_t batch_size = 32;
  int threads = 0;
};

void run(const EmbedArgs& a) {
  auto kb = rag::KnowledgeBase::open(a.kb, false);
  rag::EncoderOptions encoder_options;
  encoder_options.batch_size = a.batch_size;
  encoder_options.threads = a.threads;
  auto encoder = rag::SentenceEncoder::load(a.encoder, encoder_options);
  rag::SyncOptions sync;
  sync.batch_size = a.batch_size;
  sync.progress = stderr;
  sync.progress_terminal = stderr_is_terminal();
  rag::SyncStats stats = rag::embed_knowledge_base(*kb, *encoder, a.encoder, sync);
  if (!stats.rebuilt_because.empty())
    std::fprintf(stderr, "tunekit: the old vector index was replaced: %s\n", stats.rebuilt_because.c_str());
  std::printf("%s: %lld chunks embedded, %lld removed, %lld in the index (encoder %s, dimension %lld)\n",
              kb->vector_index_path().string().c_str(), (long long)stats.added, (long long)stats.removed,
              (long long)stats.total, encoder->name().c_str(), (long long)encoder->dim());
}

}  // namespace

void add_kb_embed(CLI::App& kb) {
  auto a = std::make_shared<EmbedArgs>();
  auto* cmd = kb.add_subcommand("embed", "Build or update the vector index of a knowledge base (for dense and hybrid search)");
  cmd->add_option("--kb", a->kb, "knowledge-base folder")->required();
  cmd->add_option("--encoder", a->encoder, "sentence-encoder folder (sentence-transformers layout, e.g. all-MiniLM-L6-v2)")->required();
  cmd->add_option("--batch-size", a->batch_size, "chunks per encoder call")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a->threads, "threads (0: one per core)");
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
