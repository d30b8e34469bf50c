// tunekit kb ingest / ls / rm through the built binary: exit codes, reports, failures listed by
// name, and kill -9 in the middle of an ingest leaving a consistent database that a re-run completes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "encoder_test_util.h"
#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/store.h"

extern char** environ;

using namespace tunekit;
using tunekit::test::run_cli;
using tunekit::test::write_file;

namespace {

// One value from the database with plain SQLite (not the store's code).
std::string sql_value(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string value = "(prepare failed)";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
      value = sqlite3_column_text(stmt, 0) ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)) : "";
    else
      value = rc == SQLITE_DONE ? "(no row)" : std::string("(error: ") + sqlite3_errmsg(db) + ")";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// name -> chunks of that document, via the store.
std::map<std::string, int64_t> chunks_per_document(const std::filesystem::path& kb_dir) {
  auto kb = rag::KnowledgeBase::open(kb_dir, false);
  std::map<std::string, int64_t> out;
  for (const auto& d : kb->documents()) out[d.name] = kb->document_chunk_count(d.id);
  return out;
}

std::vector<std::string> ingest_args(const std::filesystem::path& docs, const std::filesystem::path& kb) {
  return {"kb", "ingest", docs.string(), "--kb", kb.string()};
}

}  // namespace

TEST(KbCli, IngestListRemove) {
  const auto dir = test::temp_dir("kbcli-basic");
  write_file(dir / "docs/a.md", "# Apples\nRed fruit.\n# Pears\nGreen fruit.");
  write_file(dir / "docs/b.jsonl", "{\"question\": \"Why?\", \"answer\": \"Because.\"}\n");
  const auto kb = dir / "kb";
  auto r = run_cli({"kb", "ingest", (dir / "docs").string(), "--kb", kb.string(), "--chunk", "section",
                    "--text-field", "question", "--text-field", "answer", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["added"], nlohmann::json::array({"a.md", "b.jsonl"}));
  EXPECT_EQ(report["chunks"], 3);
  EXPECT_EQ(report["pages"], 2);

  r = run_cli({"kb", "ingest", (dir / "docs").string(), "--kb", kb.string(), "--chunk", "section"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 added, 0 replaced, 2 unchanged, 0 failed"), std::string::npos) << r.out;

  r = run_cli({"kb", "ls", "--kb", kb.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(first["name"], "a.md");
  EXPECT_EQ(first["kind"], "markdown");
  EXPECT_EQ(first["pages"], 1);
  EXPECT_EQ(first["chunks"], 2);
  EXPECT_EQ(first["title"], "Apples");
  r = run_cli({"kb", "ls", "--kb", kb.string()});
  EXPECT_NE(r.out.find("2 documents, 3 chunks"), std::string::npos) << r.out;

  r = run_cli({"kb", "rm", "a.md", "--kb", kb.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "removed a.md\n");
  r = run_cli({"kb", "rm", "a.md", "--kb", kb.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no document named 'a.md'"), std::string::npos) << r.err;
  r = run_cli({"kb", "ls", "--kb", kb.string()});
  EXPECT_NE(r.out.find("1 documents, 1 chunks"), std::string::npos) << r.out;

  r = run_cli({"kb", "ls", "--kb", (dir / "nowhere").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no knowledge base here"), std::string::npos) << r.err;
  r = run_cli({"kb", "ingest", (dir / "docs").string(), "--kb", kb.string(), "--chunk", "pages"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // a flag error (CLI11)
}

TEST(KbCli, IngestWithAnEncoderKeepsTheVectorsInStep) {
  const auto dir = test::temp_dir("kbcli-encoder");
  write_file(dir / "a.md", "# Apples\nRed fruit grows on trees.\n# Pears\nGreen fruit.");
  write_file(dir / "b.md", "# Bones\nThe femur is the longest bone.");
  const auto kb = dir / "kb";
  auto r = run_cli({"kb", "ingest", (dir / "a.md").string(), "--kb", kb.string(), "--chunk", "section", "--encoder",
                    test::golden_encoder_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vectors: 2 embedded, 0 removed, 2 in the index"), std::string::npos) << r.err;
  // A later ingest without --encoder embeds the new chunks with the base's encoder.
  r = run_cli({"kb", "ingest", (dir / "b.md").string(), "--kb", kb.string(), "--chunk", "section"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vectors: 1 embedded, 0 removed, 3 in the index"), std::string::npos) << r.err;
  r = run_cli({"kb", "search", "--kb", kb.string(), "--mode", "dense", "--json", "femur"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no "index behind the store" warning
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 3u);
  // kb rm takes the removed chunk's vector out too; an unchanged re-ingest then has nothing to do.
  r = run_cli({"kb", "rm", "b.md", "--kb", kb.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vectors: 0 embedded, 1 removed, 2 in the index"), std::string::npos) << r.err;
  r = run_cli({"kb", "ingest", (dir / "a.md").string(), "--kb", kb.string(), "--chunk", "section"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vectors: 0 embedded, 0 removed, 2 in the index"), std::string::npos) << r.err;
}

TEST(KbCli, BadFilesAreListedAndTheGoodOnesGoIn) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  const auto dir = test::temp_dir("kbcli-bad");
  const std::string pdf = test::read_bytes(test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf");
  write_file(dir / "docs/corrupt.pdf", pdf.substr(0, pdf.size() / 2));
  std::filesystem::copy_file(test::source_dir() / "tests/data/rag/encrypted.pdf", dir / "docs/encrypted.pdf");
  write_file(dir / "docs/empty.txt", "");
  write_file(dir / "docs/latin1.txt", "caf\xe9");
  std::filesystem::copy_file(test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf", dir / "docs/good.pdf");
  auto r = run_cli(ingest_args(dir / "docs", dir / "kb"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"corrupt.pdf: not a PDF or corrupt", "encrypted.pdf: encrypted PDF", "empty.txt: empty file",
                           "latin1.txt: invalid UTF-8 at byte offset 3"})
    EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n" << r.err;
  EXPECT_NE(r.out.find("1 added, 0 replaced, 0 unchanged, 4 failed: 52 pages"), std::string::npos) << r.out;

  std::filesystem::remove(dir / "docs/good.pdf");
  r = run_cli(ingest_args(dir / "docs", dir / "kb2"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("every file failed (4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("empty.txt: empty file"), std::string::npos) << r.err;
}

namespace {

// Runs `tunekit kb ingest docs --kb work/killed extra...` and kill -9s it at several fractions of a
// clean run's time (each run going on from where the last was killed). After each kill the database
// passes SQLite's and FTS5's integrity checks and holds only whole documents, each with exactly the
// chunks a clean ingest into work/clean gives it; a last run completes to the clean result.
void kill_repeatedly(const std::filesystem::path& docs, const std::filesystem::path& work,
                     const std::vector<std::string>& extra) {
  auto args = [&](const std::filesystem::path& kb) {
    std::vector<std::string> a = ingest_args(docs, kb);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const auto start = std::chrono::steady_clock::now();
  auto r = run_cli(args(work / "clean"));
  const double clean_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto clean = chunks_per_document(work / "clean");

  const auto kb = work / "killed";
  int mid_way = 0;  // kills that left some but not all documents in
  for (double fraction : {0.1, 0.25, 0.4, 0.55, 0.7, 0.85}) {
    const std::string cli = test::cli_path().string();
    const std::vector<std::string> a = args(kb);
    std::vector<char*> argv = {const_cast<char*>(cli.c_str())};
    for (const auto& s : a) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t quiet;  // its report and progress to /dev/null
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, cli.c_str(), &quiet, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&quiet);
    ASSERT_EQ(spawned, 0);
    std::this_thread::sleep_for(std::chrono::duration<double>(clean_s * fraction));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!std::filesystem::exists(kb / "kb.sqlite")) continue;  // killed before it made the database
    EXPECT_EQ(sql_value(kb / "kb.sqlite", "PRAGMA integrity_check"), "ok") << fraction;
    EXPECT_EQ(sql_value(kb / "kb.sqlite", "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"),
              "(no row)")
        << fraction;
    const auto partial = chunks_per_document(kb);
    for (const auto& [name, n] : partial) EXPECT_EQ(n, clean.at(name)) << name << " after a kill at " << fraction;
    std::printf("kill -9 at %.2f of %.2f s (%s): %zu of %zu documents in\n", fraction, clean_s,
                WIFSIGNALED(status) ? "killed" : "had finished", partial.size(), clean.size());
    mid_way += !partial.empty() && partial.size() < clean.size();
  }
  EXPECT_GE(mid_way, 1) << "no kill landed mid-way: the ingest was too fast to interrupt";

  r = run_cli(args(kb));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(chunks_per_document(kb), clean);
  EXPECT_EQ(sql_value(kb / "kb.sqlite", "SELECT count(*) FROM chunks"),
            sql_value(work / "clean" / "kb.sqlite", "SELECT count(*) FROM chunks"));
  EXPECT_EQ(sql_value(kb / "kb.sqlite", "PRAGMA integrity_check"), "ok");
}

}  // namespace

// The two PDFs and renamed copies: most of the time goes to reading PDFs.
TEST(KbCli, KillNineMidPdfIngestLeavesAConsistentBase) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  const auto dir = test::temp_dir("kbcli-kill-pdf");
  const auto docs = dir / "docs";
  std::filesystem::create_directories(docs);
  for (int copy = 0; copy < 4; ++copy)
    for (const char* name : {"niddk-eating-and-diabetes.pdf", "cdc-infection-prevention-outpatient-guide.pdf"})
      std::filesystem::copy_file(test::shared_dir() / "data/docs" / name,
                                 docs / (copy == 0 ? std::string(name) : "copy" + std::to_string(copy) + "-" + name));
  kill_repeatedly(docs, dir, {});
}

// Gray's Anatomy copies in 8-word chunks (~10k chunks each): most of the time goes to the
// document transactions, so the kills land inside them.
TEST(KbCli, KillNineMidTransactionLeavesAConsistentBase) {
  TUNEKIT_REQUIRE_SHARED("data/docs/grays-anatomy-1918-osteology.txt");
  const auto dir = test::temp_dir("kbcli-kill-txn");
  std::filesystem::create_directories(dir / "docs");
  for (int copy = 1; copy <= 4; ++copy)
    std::filesystem::copy_file(test::shared_dir() / "data/docs/grays-anatomy-1918-osteology.txt",
                               dir / "docs" / ("gray" + std::to_string(copy) + ".txt"));
  kill_repeatedly(dir / "docs", dir, {"--chunk-tokens", "8", "--chunk-overlap", "0"});
}
