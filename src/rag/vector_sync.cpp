// Keeping a knowledge base's vector index in step with its chunks.
#include <algorithm>
#include <iterator>
#include <string>

#include "tunekit/core/progress.h"
#include "tunekit/error.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::rag {
namespace fs = std::filesystem;

SyncStats sync_vectors(const KnowledgeBase& kb, const SentenceEncoder& encoder, VectorIndex& index,
                       const SyncOptions& options) {
  check(index.dim() == encoder.dim(), "vector index of dimension ", index.dim(), " cannot take vectors of encoder '",
        encoder.name(), "' (dimension ", encoder.dim(), ")");
  check(options.batch_size >= 1, "sync_vectors: batch size ", options.batch_size, " must be at least 1");
  const std::vector<int64_t> in_store = kb.chunk_ids();  // ascending
  const std::vector<int64_t> in_index = index.ids();     // ascending
  std::vector<int64_t> missing, stale;
  std::set_difference(in_store.begin(), in_store.end(), in_index.begin(), in_index.end(), std::back_inserter(missing));
  std::set_difference(in_index.begin(), in_index.end(), in_store.begin(), in_store.end(), std::back_inserter(stale));

  SyncStats stats;
  for (int64_t id : stale) stats.removed += index.remove(id) ? 1 : 0;

  std::unique_ptr<ProgressBar> bar;
  if (options.progress && !missing.empty())
    bar = std::make_unique<ProgressBar>(options.progress, int64_t(missing.size()), options.progress_terminal);
  for (size_t begin = 0; begin < missing.size(); begin += size_t(options.batch_size)) {
    size_t end = std::min(missing.size(), begin + size_t(options.batch_size));
    std::vector<ChunkRecord> chunks = kb.chunks({missing.begin() + begin, missing.begin() + end});
    std::vector<int64_t> ids;
    std::vector<std::string> texts;
    for (auto& chunk : chunks) {
      ids.push_back(chunk.id);
      texts.push_back(std::move(chunk.text));
    }
    std::vector<float> vectors = encoder.encode(texts, EncodeRole::Passage);  // [ids.size(), dim]
    check(vectors.size() == ids.size() * size_t(encoder.dim()), "encoder '", encoder.name(), "' returned ",
          vectors.size(), " floats for ", ids.size(), " texts of dimension ", encoder.dim());
    index.add(ids, vectors.data());
    stats.added += int64_t(ids.size());
    if (bar) bar->update(int64_t(end), "chunks embedded");
  }
  if (bar) bar->finish();
  stats.total = index.size();
  return stats;
}

SyncStats embed_knowledge_base(KnowledgeBase& kb, const SentenceEncoder& encoder, const fs::path& encoder_dir,
                               const SyncOptions& options) {
  const fs::path path = kb.vector_index_path();
  std::unique_ptr<VectorIndex> index;
  std::string rebuilt_because;
  if (fs::exists(path)) {
    try {
      index = VectorIndex::load(path);
      if (index->encoder_name() != encoder.name() || index->dim() != encoder.dim())
        rebuilt_because = "it was built with encoder '" + index->encoder_name() + "' (dimension " +
                          std::to_string(index->dim()) + ")";
    } catch (const Error& e) {
      rebuilt_because = std::string("it could not be read: ") + e.what();
    }
    if (!rebuilt_because.empty()) index.reset();
  }
  if (!index) index = std::make_unique<VectorIndex>(encoder.dim(), encoder.name());
  SyncStats stats = sync_vectors(kb, encoder, *index, options);
  stats.rebuilt_because = rebuilt_because;
  index->save(path);
  kb.set_meta("encoder", fs::absolute(encoder_dir).lexically_normal().string());
  kb.set_meta("encoder_dim", std::to_string(encoder.dim()));
  return stats;
}

}  // namespace tunekit::rag
