// The knowledge-base store: one folder per knowledge base holding one SQLite database (WAL mode)
// with documents, pages and chunks, a BM25 index over the chunks (FTS5, porter + unicode61), and,
// beside it, the dense vector index (rag/vector_index.h) of whichever sentence encoder the base
// was built with.
//
//   KB/kb.sqlite        documents, pages, chunks, chunks_fts, meta
//   KB/vectors.hnsw     HNSW index over chunk embeddings, labels = chunk ids (when an encoder is set)
//
// Every change to one document (add, replace, remove) is one SQLite transaction, so a kill -9 at
// any point leaves the database consistent: a document is either fully in, with all its chunks, or
// not at all. Chunk ids are never reused (AUTOINCREMENT), so a vector index that is behind the
// database can be brought up to date by id (rag/vector_index.h sync_vectors).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit::rag {

// A document as the store keeps it.
struct DocumentRecord {
  int64_t id = 0;            // assigned by the store
  std::string name;          // file name as users cite it ("niddk-eating-and-diabetes.pdf")
  std::string path;          // the path it was ingested from
  std::string kind;          // "pdf", "markdown", "json", "text"
  std::string content_hash;  // hex digest of the file's bytes: unchanged file -> no re-ingest
  std::string title;         // from metadata or the first heading; may be empty
  int64_t n_pages = 0;       // PDF: its page count; other kinds: 1
  std::string metadata_json; // a JSON object (PDF info dictionary, JSON record fields...), "{}" if none
};

struct PageRecord {
  int64_t page = 0;  // 1-based physical page
  std::string text;  // the page's text in reading order
};

// A chunk to add (ids come from the store).
struct ChunkInput {
  int64_t page_first = 1;  // 1-based page span the chunk's text comes from
  int64_t page_last = 1;
  std::string section;     // heading path ("Bones > Skull"), may be empty
  std::string text;
};

struct ChunkRecord {
  int64_t id = 0;
  int64_t document_id = 0;
  std::string document;  // DocumentRecord::name
  int64_t page_first = 1, page_last = 1;
  std::string section;
  std::string text;
};

// A retrieval result: a chunk id and a score where larger is better (BM25: -bm25(), so larger is
// more relevant; dense: cosine similarity; fused: reciprocal-rank sum).
struct Hit {
  int64_t chunk_id = 0;
  double score = 0;
};

class KnowledgeBase {
 public:
  // Opens KB (a folder; "KB/kb.sqlite" inside). create = true makes the folder and the schema when
  // absent; otherwise a missing or non-tunekit database is an Error naming the path.
  static std::unique_ptr<KnowledgeBase> open(const std::filesystem::path& kb_dir, bool create);
  virtual ~KnowledgeBase() = default;

  virtual const std::filesystem::path& dir() const = 0;
  std::filesystem::path vector_index_path() const { return dir() / "vectors.hnsw"; }

  // Documents.
  virtual std::optional<DocumentRecord> find_document(std::string_view name) const = 0;
  virtual std::vector<DocumentRecord> documents() const = 0;
  // Adds a document, its pages and its chunks in one transaction, replacing any document of the same
  // name (and its pages and chunks) in that same transaction. Returns the new document's id.
  virtual int64_t put_document(const DocumentRecord& doc, const std::vector<PageRecord>& pages,
                               const std::vector<ChunkInput>& chunks) = 0;
  // Removes a document with its pages and chunks; false when there is none of that name.
  virtual bool remove_document(std::string_view name) = 0;

  // Chunks.
  virtual int64_t chunk_count() const = 0;
  virtual int64_t document_chunk_count(int64_t document_id) const = 0;  // 0 for an unknown id
  virtual std::optional<ChunkRecord> chunk(int64_t id) const = 0;
  virtual std::vector<ChunkRecord> chunks(const std::vector<int64_t>& ids) const = 0;  // in ids' order, missing skipped
  virtual std::vector<int64_t> chunk_ids() const = 0;                                  // ascending
  virtual std::optional<PageRecord> page(std::string_view document, int64_t page) const = 0;

  // BM25 over chunk text (FTS5 bm25(), porter + unicode61). The query is free text: it is turned
  // into an OR of its terms (quoted, so FTS5 syntax in it is not interpreted). Best first, at most k.
  virtual std::vector<Hit> search_bm25(std::string_view query, int64_t k) const = 0;

  // Free-form settings kept with the base (e.g. "encoder" = the sentence encoder's folder,
  // "encoder_dim", "chunking"). nullopt when unset.
  virtual std::optional<std::string> meta(std::string_view key) const = 0;
  virtual void set_meta(std::string_view key, std::string_view value) = 0;
};

}  // namespace tunekit::rag
