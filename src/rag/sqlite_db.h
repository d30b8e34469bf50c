// Thin RAII wrappers over the SQLite C API for the knowledge-base store: a connection that names
// its file in every error, cached prepared statements, and a transaction that rolls back unless
// committed. Private to the rag layer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace tunekit::rag {

class SqliteDb;

// A prepared statement. Bind parameters (1-based), step through rows, read columns (0-based).
// Owned and cached by SqliteDb; use it through Query, which resets it when done.
class Statement {
 public:
  Statement(SqliteDb& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void bind(int index, int64_t value);
  void bind(int index, std::string_view value);
  bool step();  // true: a row is ready; false: done. Throws Error naming the db on failure.
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  void reset();

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_;
};

// Borrows a cached statement and resets it (bindings cleared) when it goes out of scope.
class Query {
 public:
  Query(SqliteDb& db, const char* sql);
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() { stmt_.reset(); }
  Statement* operator->() { return &stmt_; }
  Statement& operator*() { return stmt_; }

 private:
  Statement& stmt_;
};

class SqliteDb {
 public:
  // flags: SQLITE_OPEN_* (the caller decides whether a missing file may be created).
  SqliteDb(const std::filesystem::path& path, int flags);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() { return db_; }
  void exec(const char* sql);                  // one or more statements without results
  int64_t query_int(const char* sql);          // the first column of the first row ("PRAGMA user_version")
  // Cached by the SQL text's address: sql must outlive the connection (a literal or a static string).
  Statement& prepare(const char* sql);
  int64_t last_insert_id() const;
  // Throws Error("<path>: <what>: <sqlite's message>").
  [[noreturn]] void fail_sqlite(std::string_view what) const;

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::map<const char*, std::unique_ptr<Statement>> statements_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace tunekit::rag
