// KnowledgeBase over one SQLite database, KB/kb.sqlite (see tunekit/rag/store.h for the contract).
//
//   meta(key, value)                         schema_version, chunking, encoder, ...
//   documents(id, name UNIQUE, path, kind, content_hash, title, n_pages, metadata_json)
//   pages(document_id, page, text)           one row per 1-based physical page
//   chunks(id AUTOINCREMENT, document_id, page_first, page_last, section, text)
//   chunks_fts                               FTS5 over chunks.text (external content, kept in step
//                                            by triggers), tokenize = porter unicode61
//
// The file is marked with application_id 'TKKB' and user_version = schema version, so a database
// that some other program made is refused instead of being written into.
#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <mutex>

#include "rag/bm25_query.h"
#include "rag/sqlite_db.h"
#include "tunekit/error.h"
#include "tunekit/rag/store.h"

namespace tunekit::rag {

namespace {

constexpr int64_t kApplicationId = 0x544B4B42;  // 'TKKB'
constexpr int64_t kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE documents(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  title TEXT NOT NULL,
  n_pages INTEGER NOT NULL CHECK (n_pages >= 0),
  metadata_json TEXT NOT NULL);
CREATE TABLE pages(
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  page INTEGER NOT NULL CHECK (page >= 1),
  text TEXT NOT NULL,
  PRIMARY KEY (document_id, page)) WITHOUT ROWID;
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  page_first INTEGER NOT NULL CHECK (page_first >= 1),
  page_last INTEGER NOT NULL CHECK (page_last >= page_first),
  section TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX chunks_by_document ON chunks(document_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id',
                                           tokenize='porter unicode61');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
)sql";

constexpr const char* kSelectDocument =
    "SELECT id, name, path, kind, content_hash, title, n_pages, metadata_json FROM documents";
constexpr const char* kSelectChunk =
    "SELECT c.id, c.document_id, d.name, c.page_first, c.page_last, c.section, c.text "
    "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?1";

DocumentRecord document_from_row(const Statement& s) {
  return {s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.int64(6), s.text(7)};
}

class SqliteKnowledgeBase final : public KnowledgeBase {
 public:
  SqliteKnowledgeBase(const std::filesystem::path& dir, bool create);
  const std::filesystem::path& dir() const override { return dir_; }

  std::optional<DocumentRecord> find_document(std::string_view name) const override;
  std::vector<DocumentRecord> documents() const override;
  int64_t put_document(const DocumentRecord& doc, const std::vector<PageRecord>& pages,
                       const std::vector<ChunkInput>& chunks) override;
  bool remove_document(std::string_view name) override;

  int64_t chunk_count() const override;
  int64_t document_chunk_count(int64_t document_id) const override;
  std::optional<ChunkRecord> chunk(int64_t id) const override;
  std::vector<ChunkRecord> chunks(const std::vector<int64_t>& ids) const override;
  std::vector<int64_t> chunk_ids() const override;
  std::optional<PageRecord> page(std::string_view document, int64_t page) const override;
  std::vector<Hit> search_bm25(std::string_view query, int64_t k) const override;
  std::vector<std::string> without_common_terms(std::vector<std::string> terms) const;  // mutex_ held

  std::optional<std::string> meta(std::string_view key) const override;
  void set_meta(std::string_view key, std::string_view value) override;

 private:
  void check_or_create_schema(bool create);
  bool delete_document(std::string_view name);  // inside the caller's transaction

  std::filesystem::path dir_;
  // One connection; SQLite statements are not re-entrant, so the const readers lock too.
  mutable std::mutex mutex_;
  mutable SqliteDb db_;
};

std::filesystem::path database_path(const std::filesystem::path& dir, bool create) {
  const auto path = dir / "kb.sqlite";
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    check(!ec, dir.string(), ": cannot create the knowledge-base folder (", ec.message(), ")");
  } else {
    check(std::filesystem::exists(path), path.string(),
          ": no knowledge base here (create one with `tunekit kb ingest FILES --kb ", dir.string(), "`)");
  }
  return path;
}

SqliteKnowledgeBase::SqliteKnowledgeBase(const std::filesystem::path& dir, bool create)
    : dir_(dir),
      db_(database_path(dir, create),
          SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX) {
  sqlite3_busy_timeout(db_.handle(), 10000);  // another tunekit writing: wait for it
  check_or_create_schema(create);
  db_.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
  // Per-term document frequencies for search_bm25 (a view of the index, in this connection only).
  db_.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab USING fts5vocab(main, chunks_fts, 'row');");
}

void SqliteKnowledgeBase::check_or_create_schema(bool create) {
  const std::string where = db_.path().string();
  int64_t app_id = 0;
  try {
    app_id = db_.query_int("PRAGMA application_id");  // the first read: a non-database fails here
  } catch (const Error& e) {
    fail(where, ": not a tunekit knowledge base (", e.what(), ")");
  }
  // A new file, or one without any table (a kill -9 while the schema was being created leaves one
  // in WAL mode with only a header): make the schema.
  if (app_id == 0 && create && db_.query_int("SELECT count(*) FROM sqlite_master") == 0) {
    db_.exec("PRAGMA journal_mode = WAL");
    Transaction t(db_);
    db_.exec(kSchema);
    db_.exec(("PRAGMA application_id = " + std::to_string(kApplicationId) + "; PRAGMA user_version = " +
              std::to_string(kSchemaVersion) + ";").c_str());
    {
      Query q(db_, "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)");
      q->bind(1, std::to_string(kSchemaVersion));
      q->step();
    }
    t.commit();
    return;
  }
  check(app_id == kApplicationId, where, ": not a tunekit knowledge base (an SQLite database of another "
        "program: application_id ", app_id, "); give --kb a new or a tunekit folder");
  const int64_t version = db_.query_int("PRAGMA user_version");
  check(version == kSchemaVersion, where, ": knowledge-base schema version ", version, ", this tunekit reads ",
        kSchemaVersion, version > kSchemaVersion ? " (made by a newer tunekit: upgrade)" : " (re-ingest it)");
  db_.exec("PRAGMA journal_mode = WAL");
}

std::optional<DocumentRecord> SqliteKnowledgeBase::find_document(std::string_view name) const {
  std::lock_guard lock(mutex_);
  static const std::string sql = std::string(kSelectDocument) + " WHERE name = ?1";
  Query q(db_, sql.c_str());
  q->bind(1, name);
  if (!q->step()) return std::nullopt;
  return document_from_row(*q);
}

std::vector<DocumentRecord> SqliteKnowledgeBase::documents() const {
  std::lock_guard lock(mutex_);
  static const std::string sql = std::string(kSelectDocument) + " ORDER BY name";
  Query q(db_, sql.c_str());
  std::vector<DocumentRecord> out;
  while (q->step()) out.push_back(document_from_row(*q));
  return out;
}

bool SqliteKnowledgeBase::delete_document(std::string_view name) {
  int64_t id = 0;
  {
    Query q(db_, "SELECT id FROM documents WHERE name = ?1");
    q->bind(1, name);
    if (!q->step()) return false;
    id = q->int64(0);
  }
  // Chunks first and explicitly, so the FTS delete trigger sees each row.
  for (const char* sql : {"DELETE FROM chunks WHERE document_id = ?1", "DELETE FROM pages WHERE document_id = ?1",
                          "DELETE FROM documents WHERE id = ?1"}) {
    Query q(db_, sql);
    q->bind(1, id);
    q->step();
  }
  return true;
}

int64_t SqliteKnowledgeBase::put_document(const DocumentRecord& doc, const std::vector<PageRecord>& pages,
                                          const std::vector<ChunkInput>& chunks) {
  check(!doc.name.empty(), db_.path().string(), ": a document needs a name");
  std::lock_guard lock(mutex_);
  Transaction t(db_);
  delete_document(doc.name);
  int64_t doc_id = 0;
  {
    Query q(db_, "INSERT INTO documents(name, path, kind, content_hash, title, n_pages, metadata_json) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    q->bind(1, doc.name);
    q->bind(2, doc.path);
    q->bind(3, doc.kind);
    q->bind(4, doc.content_hash);
    q->bind(5, doc.title);
    q->bind(6, doc.n_pages);
    q->bind(7, doc.metadata_json.empty() ? std::string_view("{}") : std::string_view(doc.metadata_json));
    q->step();
    doc_id = db_.last_insert_id();
  }
  for (const PageRecord& p : pages) {
    Query q(db_, "INSERT INTO pages(document_id, page, text) VALUES (?1, ?2, ?3)");
    q->bind(1, doc_id);
    q->bind(2, p.page);
    q->bind(3, p.text);
    q->step();
  }
  for (const ChunkInput& c : chunks) {
    Query q(db_, "INSERT INTO chunks(document_id, page_first, page_last, section, text) VALUES (?1, ?2, ?3, ?4, ?5)");
    q->bind(1, doc_id);
    q->bind(2, c.page_first);
    q->bind(3, c.page_last);
    q->bind(4, c.section);
    q->bind(5, c.text);
    q->step();
  }
  t.commit();
  return doc_id;
}

bool SqliteKnowledgeBase::remove_document(std::string_view name) {
  std::lock_guard lock(mutex_);
  Transaction t(db_);
  const bool removed = delete_document(name);
  t.commit();
  return removed;
}

int64_t SqliteKnowledgeBase::chunk_count() const {
  std::lock_guard lock(mutex_);
  Query q(db_, "SELECT count(*) FROM chunks");
  q->step();
  return q->int64(0);
}

int64_t SqliteKnowledgeBase::document_chunk_count(int64_t document_id) const {
  std::lock_guard lock(mutex_);
  Query q(db_, "SELECT count(*) FROM chunks WHERE document_id = ?1");
  q->bind(1, document_id);
  q->step();
  return q->int64(0);
}

std::optional<ChunkRecord> SqliteKnowledgeBase::chunk(int64_t id) const {
  auto found = chunks({id});
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<ChunkRecord> SqliteKnowledgeBase::chunks(const std::vector<int64_t>& ids) const {
  std::lock_guard lock(mutex_);
  std::vector<ChunkRecord> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    Query q(db_, kSelectChunk);
    q->bind(1, id);
    if (q->step()) out.push_back({q->int64(0), q->int64(1), q->text(2), q->int64(3), q->int64(4), q->text(5), q->text(6)});
  }
  return out;
}

std::vector<int64_t> SqliteKnowledgeBase::chunk_ids() const {
  std::lock_guard lock(mutex_);
  Query q(db_, "SELECT id FROM chunks ORDER BY id");
  std::vector<int64_t> out;
  while (q->step()) out.push_back(q->int64(0));
  return out;
}

std::optional<PageRecord> SqliteKnowledgeBase::page(std::string_view document, int64_t page) const {
  std::lock_guard lock(mutex_);
  Query q(db_, "SELECT p.page, p.text FROM pages p JOIN documents d ON d.id = p.document_id "
               "WHERE d.name = ?1 AND p.page = ?2");
  q->bind(1, document);
  q->bind(2, page);
  if (!q->step()) return std::nullopt;
  return PageRecord{q->int64(0), q->text(1)};
}

// Ranking costs FTS5 about 1.5 us for every chunk that matches any term, so a term found in most
// chunks ("the", "what") makes a large base slow (~300 ms at 100,000 chunks) while adding almost
// nothing to the ranking: FTS5's BM25 weight, log((N - n + 0.5) / (n + 0.5)), is <= 2.9 for a term
// in more than 1/20 of the chunks (0 beyond half) against ~7-11 for the rare terms that decide it.
// Such terms are left out of the query when the base is large enough for it to matter (more than
// kCommonTermMinChunks chunks hold them); when every term is that common, the rarest one is kept.
constexpr int64_t kCommonTermMinChunks = 2000;
constexpr int64_t kCommonTermFraction = 20;  // 1/20 of the chunks

std::vector<std::string> SqliteKnowledgeBase::without_common_terms(std::vector<std::string> terms) const {
  int64_t n_chunks = 0;
  {
    Query count(db_, "SELECT count(*) FROM chunks");
    if (count->step()) n_chunks = count->int64(0);
  }
  const int64_t threshold = std::max(kCommonTermMinChunks, n_chunks / kCommonTermFraction);
  if (n_chunks <= threshold) return terms;
  std::vector<std::string> kept;
  std::string rarest;
  int64_t rarest_chunks = INT64_MAX;
  for (std::string& term : terms) {
    Query df(db_, "SELECT doc FROM temp.chunks_vocab WHERE term = ?1");
    df->bind(1, vocabulary_form(term));
    const int64_t n = df->step() ? df->int64(0) : 0;  // 0: not found as written (porter changes it): kept
    if (n <= threshold) {
      kept.push_back(std::move(term));
    } else if (n < rarest_chunks) {
      rarest_chunks = n;
      rarest = std::move(term);
    }
  }
  if (kept.empty()) kept.push_back(std::move(rarest));
  return kept;
}

std::vector<Hit> SqliteKnowledgeBase::search_bm25(std::string_view query, int64_t k) const {
  std::vector<std::string> terms = query_terms(query);
  if (terms.empty() || k <= 0) return {};
  std::lock_guard lock(mutex_);
  terms = without_common_terms(std::move(terms));
  // bm25() is smaller for better matches; ORDER BY rank is FTS5's fast path for it.
  Query q(db_, "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?2");
  q->bind(1, fts5_or_query(terms));
  q->bind(2, k);
  std::vector<Hit> hits;
  while (q->step()) hits.push_back({q->int64(0), -q->real(1)});
  return hits;
}

std::optional<std::string> SqliteKnowledgeBase::meta(std::string_view key) const {
  std::lock_guard lock(mutex_);
  Query q(db_, "SELECT value FROM meta WHERE key = ?1");
  q->bind(1, key);
  if (!q->step()) return std::nullopt;
  return q->text(0);
}

void SqliteKnowledgeBase::set_meta(std::string_view key, std::string_view value) {
  std::lock_guard lock(mutex_);
  Query q(db_, "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  q->bind(1, key);
  q->bind(2, value);
  q->step();
}

}  // namespace

std::unique_ptr<KnowledgeBase> KnowledgeBase::open(const std::filesystem::path& kb_dir, bool create) {
  return std::make_unique<SqliteKnowledgeBase>(kb_dir, create);
}

}  // namespace tunekit::rag
