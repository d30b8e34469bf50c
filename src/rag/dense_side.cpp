// open_dense_side: the encoder and vector index a search over a knowledge base uses.
#include <string>

#include "tunekit/error.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::rag {
namespace fs = std::filesystem;

DenseSide open_dense_side(const KnowledgeBase& kb, const fs::path& encoder_dir) {
  DenseSide side;
  const fs::path index_path = kb.vector_index_path();
  const std::string fix = "build it with `tunekit kb embed --kb " + kb.dir().string() + " --encoder DIR`";
  fs::path dir = encoder_dir;
  if (dir.empty()) {
    std::optional<std::string> recorded = kb.meta("encoder");
    if (!recorded) {
      side.warning = "the knowledge base has no vector index; " + fix;
      return side;
    }
    dir = *recorded;
    if (!fs::exists(dir)) {
      side.warning = "the sentence encoder the knowledge base was embedded with (" + dir.string() +
                     ") is not there; pass --encoder DIR";
      return side;
    }
  }
  if (!fs::exists(index_path)) {
    side.warning = "no vector index at " + index_path.string() + "; " + fix;
    return side;
  }
  auto index = VectorIndex::load(index_path);
  auto encoder = SentenceEncoder::load(dir);
  check(encoder->name() == index->encoder_name() && encoder->dim() == index->dim(), index_path.string(),
        ": built with encoder '", index->encoder_name(), "' (dimension ", index->dim(), "), not '", encoder->name(),
        "' (dimension ", encoder->dim(), ") from ", dir.string(), ": pass that encoder, or re-embed with `tunekit kb embed`");
  const int64_t n_chunks = kb.chunk_count();
  if (index->size() != n_chunks)
    side.warning = "the vector index holds " + std::to_string(index->size()) + " vectors for " +
                   std::to_string(n_chunks) + " chunks; bring it up to date with `tunekit kb embed`";
  side.index = std::move(index);
  side.encoder = std::move(encoder);
  return side;
}

}  // namespace tunekit::rag
