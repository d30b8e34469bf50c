// The SQLite knowledge-base store: schema, round trips, one transaction per document (a failure
// half-way leaves the previous state), FTS5 query escaping, and refusing files that are not a
// tunekit knowledge base.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "rag/bm25_query.h"
#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/rag/store.h"

using namespace tunekit;
using namespace tunekit::rag;
using tunekit::test::error_of;

namespace {

DocumentRecord doc_named(const std::string& name, const std::string& hash = "h1") {
  DocumentRecord d;
  d.name = name;
  d.path = "/data/" + name;
  d.kind = "text";
  d.content_hash = hash;
  d.title = "Title of " + name;
  d.n_pages = 2;
  d.metadata_json = R"({"author":"A"})";
  return d;
}

std::vector<PageRecord> two_pages() { return {{1, "page one text"}, {2, "page two text"}}; }

// Reads one value with the plain SQLite API (independent of the store's own code).
std::string sql_value(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string value;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0)) value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) value = std::string("(error: ") + sqlite3_errmsg(db) + ")";
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST(Bm25Query, QuotesTermsAndJoinsWithOr) {
  EXPECT_EQ(fts5_or_query("blood glucose"), R"("blood" OR "glucose")");
  EXPECT_EQ(fts5_or_query(R"(say "hi")"), R"("say" OR """hi""")");
  EXPECT_EQ(fts5_or_query("NEAR(a b) x* -y AND"), R"q("NEAR(a" OR "b)" OR "x*" OR "-y" OR "AND")q");
  EXPECT_EQ(fts5_or_query("  \t\n"), "");
  EXPECT_EQ(fts5_or_query("?! -- * \"\" ()"), "");
  EXPECT_EQ(fts5_or_query("café"), R"("café")");
}

TEST(Store, CreatesTheSchema) {
  const auto dir = test::temp_dir("store-schema") / "kb";
  { auto kb = KnowledgeBase::open(dir, true); EXPECT_EQ(kb->dir(), dir); }
  const auto db = dir / "kb.sqlite";
  ASSERT_TRUE(std::filesystem::exists(db));
  EXPECT_EQ(sql_value(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_value(db, "PRAGMA user_version"), "1");
  EXPECT_EQ(sql_value(db, "PRAGMA application_id"), std::to_string(0x544B4B42));
  EXPECT_EQ(sql_value(db, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  for (const char* table : {"documents", "pages", "chunks", "chunks_fts", "meta"})
    EXPECT_EQ(sql_value(db, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'"), "1")
        << table;
  EXPECT_NE(sql_value(db, "SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").find("porter unicode61"),
            std::string::npos);
  EXPECT_NE(sql_value(db, "SELECT sql FROM sqlite_master WHERE name = 'chunks'").find("AUTOINCREMENT"),
            std::string::npos);
}

TEST(Store, CreatesTheSchemaInAnEmptyDatabase) {
  // What a kill -9 during the schema's creation leaves: a WAL-mode header and no table.
  const auto dir = test::temp_dir("store-empty-db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "kb.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(KnowledgeBase::open(dir, false), Error);
  KnowledgeBase::open(dir, true)->set_meta("k", "v");
  EXPECT_EQ(KnowledgeBase::open(dir, false)->meta("k"), "v");
}

TEST(Store, RefusesWhatIsNotAKnowledgeBase) {
  const auto root = test::temp_dir("store-refuse");
  const std::string missing = error_of([&] { KnowledgeBase::open(root / "absent", false); });
  EXPECT_NE(missing.find((root / "absent" / "kb.sqlite").string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("no knowledge base"), std::string::npos) << missing;
  EXPECT_FALSE(std::filesystem::exists(root / "absent"));

  std::filesystem::create_directories(root / "text");
  std::ofstream(root / "text" / "kb.sqlite") << "this is a text file, not a database, but long enough to be read\n";
  for (bool create : {false, true}) {
    const std::string text = error_of([&] { KnowledgeBase::open(root / "text", create); });
    EXPECT_NE(text.find((root / "text" / "kb.sqlite").string()), std::string::npos) << text;
    EXPECT_NE(text.find("not a tunekit knowledge base"), std::string::npos) << text;
  }

  std::filesystem::create_directories(root / "other");
  const auto other = root / "other" / "kb.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  for (bool create : {false, true}) {
    const std::string msg = error_of([&] { KnowledgeBase::open(root / "other", create); });
    EXPECT_NE(msg.find(other.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("another program"), std::string::npos) << msg;
  }
  EXPECT_EQ(sql_value(other, "SELECT count(*) FROM sqlite_master"), "1");  // left untouched
}

TEST(Store, DocumentsPagesAndChunksRoundTrip) {
  const auto dir = test::temp_dir("store-roundtrip") / "kb";
  int64_t id = 0;
  {
    auto kb = KnowledgeBase::open(dir, true);
    id = kb->put_document(doc_named("b.txt"), two_pages(),
                          {{1, 1, "Intro", "first chunk"}, {1, 2, "Intro > More", "second chunk spans"}});
    kb->put_document(doc_named("a.txt"), {{1, "x"}}, {{1, 1, "", "alpha"}});
  }
  auto kb = KnowledgeBase::open(dir, false);  // everything survives a reopen
  const auto d = kb->find_document("b.txt");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id, id);
  EXPECT_EQ(d->path, "/data/b.txt");
  EXPECT_EQ(d->kind, "text");
  EXPECT_EQ(d->content_hash, "h1");
  EXPECT_EQ(d->title, "Title of b.txt");
  EXPECT_EQ(d->n_pages, 2);
  EXPECT_EQ(d->metadata_json, R"({"author":"A"})");
  EXPECT_FALSE(kb->find_document("c.txt"));

  const auto docs = kb->documents();
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].name, "a.txt");  // by name
  EXPECT_EQ(docs[1].name, "b.txt");

  EXPECT_EQ(kb->page("b.txt", 2)->text, "page two text");
  EXPECT_FALSE(kb->page("b.txt", 3));
  EXPECT_FALSE(kb->page("c.txt", 1));

  const auto ids = kb->chunk_ids();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(kb->chunk_count(), 3);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  const auto c = kb->chunk(ids[1]);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->document_id, id);
  EXPECT_EQ(c->document, "b.txt");
  EXPECT_EQ(c->page_first, 1);
  EXPECT_EQ(c->page_last, 2);
  EXPECT_EQ(c->section, "Intro > More");
  EXPECT_EQ(c->text, "second chunk spans");
  EXPECT_EQ(kb->document_chunk_count(id), 2);
  EXPECT_EQ(kb->document_chunk_count(docs[0].id), 1);
  EXPECT_EQ(kb->document_chunk_count(999999), 0);
  const auto picked = kb->chunks({ids[2], 999999, ids[0]});  // ids' order, missing skipped
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(picked[0].text, "alpha");
  EXPECT_EQ(picked[1].text, "first chunk");
  EXPECT_FALSE(kb->chunk(999999));
}

TEST(Store, ReplaceAndRemoveKeepTheIndexInStep) {
  auto kb = KnowledgeBase::open(test::temp_dir("store-replace") / "kb", true);
  kb->put_document(doc_named("d.txt"), two_pages(), {{1, 1, "", "zebra stripes"}, {2, 2, "", "zebra mane"}});
  const auto old_ids = kb->chunk_ids();
  EXPECT_EQ(kb->search_bm25("zebra", 10).size(), 2u);

  kb->put_document(doc_named("d.txt", "h2"), two_pages(), {{1, 2, "", "giraffe neck"}});
  EXPECT_EQ(kb->documents().size(), 1u);
  EXPECT_EQ(kb->find_document("d.txt")->content_hash, "h2");
  const auto new_ids = kb->chunk_ids();
  ASSERT_EQ(new_ids.size(), 1u);
  EXPECT_GT(new_ids[0], old_ids.back());  // never reused
  EXPECT_TRUE(kb->search_bm25("zebra", 10).empty());
  ASSERT_EQ(kb->search_bm25("giraffe", 10).size(), 1u);
  EXPECT_EQ(kb->search_bm25("giraffe", 10)[0].chunk_id, new_ids[0]);

  EXPECT_TRUE(kb->remove_document("d.txt"));
  EXPECT_FALSE(kb->remove_document("d.txt"));
  EXPECT_EQ(kb->chunk_count(), 0);
  EXPECT_FALSE(kb->page("d.txt", 1));
  EXPECT_TRUE(kb->search_bm25("giraffe", 10).empty());
  const auto db = kb->dir() / "kb.sqlite";
  kb.reset();
  EXPECT_EQ(sql_value(db, "SELECT count(*) FROM pages"), "0");
  EXPECT_EQ(sql_value(db, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"), "");  // FTS5 in step
}

TEST(Store, AFailureMidDocumentLeavesThePreviousState) {
  auto kb = KnowledgeBase::open(test::temp_dir("store-rollback") / "kb", true);
  kb->put_document(doc_named("d.txt"), two_pages(), {{1, 1, "", "original words"}});
  const auto ids = kb->chunk_ids();
  // The third chunk breaks a CHECK constraint (page_first >= 1) after the old document was deleted
  // and the new one and two chunks were inserted: all of it must roll back.
  const std::vector<ChunkInput> bad = {{1, 1, "", "replacement one"}, {2, 2, "", "replacement two"}, {0, 1, "", "bad"}};
  const std::string msg = error_of([&] { kb->put_document(doc_named("d.txt", "h2"), two_pages(), bad); });
  EXPECT_NE(msg.find("kb.sqlite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CHECK constraint failed"), std::string::npos) << msg;
  EXPECT_EQ(kb->chunk_ids(), ids);
  EXPECT_EQ(kb->find_document("d.txt")->content_hash, "h1");
  EXPECT_EQ(kb->search_bm25("original", 5).size(), 1u);
  EXPECT_TRUE(kb->search_bm25("replacement", 5).empty());

  EXPECT_THROW(kb->put_document(doc_named("new.txt"), two_pages(), bad), Error);
  EXPECT_FALSE(kb->find_document("new.txt"));
  EXPECT_FALSE(kb->page("new.txt", 1));
  EXPECT_EQ(kb->chunk_count(), 1);

  // Duplicate pages fail the same way; the store is still usable afterwards.
  EXPECT_THROW(kb->put_document(doc_named("dup.txt"), {{1, "a"}, {1, "b"}}, {}), Error);
  EXPECT_FALSE(kb->find_document("dup.txt"));
  kb->put_document(doc_named("ok.txt"), {{1, "a"}}, {{1, 1, "", "fine"}});
  EXPECT_EQ(kb->chunk_count(), 2);
}

TEST(Store, Bm25RanksAndEscapesQueries) {
  auto kb = KnowledgeBase::open(test::temp_dir("store-bm25") / "kb", true);
  kb->put_document(doc_named("d.txt"), two_pages(),
                   {{1, 1, "", "Blood glucose targets: glucose before meals is 70 to 130."},
                    {1, 1, "", "Exercise helps lower blood pressure."},
                    {2, 2, "", "Wash hands near the sink; say \"hello\" to patients."},
                    {2, 2, "", "Unrelated text about bones."}});
  const auto ids = kb->chunk_ids();
  const auto hits = kb->search_bm25("glucose blood", 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].chunk_id, ids[0]);  // both terms, glucose twice
  EXPECT_EQ(hits[1].chunk_id, ids[1]);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_GT(hits[1].score, 0);
  EXPECT_EQ(kb->search_bm25("glucose blood", 1).size(), 1u);
  EXPECT_TRUE(kb->search_bm25("glucose", 0).empty());
  EXPECT_EQ(kb->search_bm25("meal", 5).size(), 1u);  // porter: meals -> meal

  // FTS5 syntax in the query is taken as words, never interpreted or an error.
  EXPECT_EQ(kb->search_bm25("NEAR", 5).size(), 1u);
  EXPECT_EQ(kb->search_bm25("NEAR(blood sink)", 5).size(), 1u);  // the phrases "near blood" and "sink"
  EXPECT_EQ(kb->search_bm25("\"hello\"", 5).size(), 1u);
  EXPECT_EQ(kb->search_bm25("hel\"lo", 5).size(), 0u);
  EXPECT_EQ(kb->search_bm25("-bones", 5).size(), 1u);
  EXPECT_EQ(kb->search_bm25("gluc*", 5).size(), 0u);  // no prefix search: "gluc" is a word
  EXPECT_EQ(kb->search_bm25("AND OR NOT", 5).size(), 0u);
  EXPECT_EQ(kb->search_bm25("text: bones", 5).size(), 1u);
  for (const char* q : {"", "   ", "?!", "*", "\"\"", "-", "()", "—"}) EXPECT_TRUE(kb->search_bm25(q, 5).empty()) << q;
}

TEST(Store, MetaValues) {
  const auto dir = test::temp_dir("store-meta") / "kb";
  {
    auto kb = KnowledgeBase::open(dir, true);
    EXPECT_FALSE(kb->meta("chunking"));
    kb->set_meta("chunking", "page");
    kb->set_meta("chunking", "tokens 256/32");
  }
  EXPECT_EQ(KnowledgeBase::open(dir, false)->meta("chunking"), "tokens 256/32");
}
