// The dense side of a knowledge base: an HNSW index (hnswlib, inner product over unit vectors, so
// 1 - distance is the cosine similarity) of chunk embeddings, labelled by chunk id.
//
//   KB/vectors.hnsw        hnswlib's own index file
//   KB/vectors.hnsw.json   {"format": "tunekit-hnsw-1", "dim", "encoder", "count", "bytes", "hash"}
//
// Both are written atomically (temp file + fsync + rename), the index first. Loading checks the side
// file's size and hash against the index file and walks the index's structure (element sizes, link
// counts, neighbour ids) before hnswlib reads it, so a truncated, corrupt or half-written index is an
// Error naming the file with the fix (`tunekit kb embed` rebuilds it), never a crash.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tunekit/rag/encoder.h"
#include "tunekit/rag/store.h"

namespace tunekit::rag {

struct VectorIndexParams {
  int64_t M = 16;                // graph degree (level 0 keeps 2M)
  int64_t ef_construction = 200;
  // Candidates kept while searching (raised to k where k is larger). bench_kb, 100,000 embedding-like
  // vectors of 384: recall@10 0.85 / 0.94 / 0.98 at 64 / 128 / 256, p50 0.22 / 0.42 / 0.78 ms.
  int64_t ef_search = 256;
};

class VectorIndex {
 public:
  // An empty index of unit vectors of dimension dim, made by the encoder called encoder_name.
  VectorIndex(int64_t dim, std::string encoder_name, const VectorIndexParams& params = {});
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Reads path and path + ".json"; Error naming the file and the fix when either is missing,
  // truncated or inconsistent.
  static std::unique_ptr<VectorIndex> load(const std::filesystem::path& path, const VectorIndexParams& params = {});
  // Writes path and path + ".json" atomically.
  void save(const std::filesystem::path& path) const;

  int64_t dim() const { return dim_; }
  const std::string& encoder_name() const { return encoder_name_; }
  int64_t size() const;                 // vectors searchable (removed ones not counted)
  bool contains(int64_t id) const;      // added and not removed
  std::vector<int64_t> ids() const;     // ascending, removed ones left out
  void set_ef_search(int64_t ef);

  // vectors: [ids.size(), dim] row-major, unit L2 norm. An id already present is replaced. Rows
  // go in from the thread pool (core/parallel.h; hnswlib's insertion locks per element).
  void add(const std::vector<int64_t>& ids, const float* vectors);
  // Marks id deleted (it is never returned again); false when it is not there.
  bool remove(int64_t id);
  // query: [dim], unit norm. At most k hits, best first; score = cosine similarity.
  std::vector<Hit> search(const float* query, int64_t k) const;

 private:
  struct Graph;
  VectorIndex(int64_t dim, std::string encoder_name, std::unique_ptr<Graph> graph, const VectorIndexParams& params);
  void reserve(int64_t n);

  int64_t dim_;
  std::string encoder_name_;
  VectorIndexParams params_;
  std::unique_ptr<Graph> graph_;
};

// Brings index up to the store: embeds (EncodeRole::Passage, batch_size texts at a time) every chunk
// the index lacks and removes the ones the store no longer has.
struct SyncOptions {
  int64_t batch_size = 64;
  std::FILE* progress = nullptr;  // a progress bar here when set
  bool progress_terminal = false; // redraw in place (else plain lines)
};
struct SyncStats {
  int64_t added = 0, removed = 0, total = 0;  // total: vectors in the index afterwards
  std::string rebuilt_because;  // embed_knowledge_base: why an existing index was replaced; empty if not
};
SyncStats sync_vectors(const KnowledgeBase& kb, const SentenceEncoder& encoder, VectorIndex& index,
                       const SyncOptions& options = {});

// `tunekit kb embed`, and `kb ingest --encoder`: loads kb's index (a new one where there is none, and
// where the old one was built by another encoder or cannot be read), syncs it, saves it, and
// records the encoder in kb's meta ("encoder" = encoder_dir made absolute, "encoder_dim").
SyncStats embed_knowledge_base(KnowledgeBase& kb, const SentenceEncoder& encoder,
                               const std::filesystem::path& encoder_dir, const SyncOptions& options = {});

// The encoder and index a search over kb uses: encoder_dir, else the folder in kb's "encoder" meta.
// Where either is missing, both are null and warning says why and how to fix it; an index behind
// the store (chunks not yet embedded) also sets warning. A corrupt index file is an Error.
struct DenseSide {
  std::unique_ptr<SentenceEncoder> encoder;
  std::unique_ptr<VectorIndex> index;
  std::string warning;
};
DenseSide open_dense_side(const KnowledgeBase& kb, const std::filesystem::path& encoder_dir = {});

}  // namespace tunekit::rag
