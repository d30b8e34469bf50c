// `tunekit serve --kb NAME=KB_DIR`: bad flags are clear errors before anything is served. (The
// working flag is driven end to end by scripts/web_ui.sh; the RAG chat itself by rag_chat_test.)
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "server_fixture.h"

using namespace tunekit;

namespace {

TEST(ServeKbCli, BadKnowledgeBaseFlagIsAClearError) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const std::string model = (test::shared_dir() / test::kStoriesModel).string();
  auto no_name = test::run_cli({"serve", "--model", model, "--kb", "/some/kb"});
  EXPECT_EQ(no_name.exit_code, 1);
  EXPECT_NE(no_name.err.find("NAME=PATH"), std::string::npos) << no_name.err;
  const auto empty_dir = test::temp_dir("serve_kb_cli");
  auto missing = test::run_cli({"serve", "--model", model, "--kb", "docs=" + empty_dir.string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(empty_dir.string()), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("kb ingest"), std::string::npos) << missing.err;  // the fix
}

TEST(ServeKbCli, KnowledgeBaseNamesAreUnique) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const auto dir = test::temp_dir("serve_kb_cli_dup") / "kb";
  const auto doc = dir.parent_path() / "note.md";
  std::ofstream(doc) << "# Glucose\n\nCheck your blood glucose before meals.\n";
  ASSERT_EQ(test::run_cli({"kb", "ingest", doc.string(), "--kb", dir.string()}).exit_code, 0);
  const std::string model = (test::shared_dir() / test::kStoriesModel).string();
  auto dup = test::run_cli({"serve", "--model", model, "--kb", "docs=" + dir.string(), "--kb", "docs=" + dir.string()});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("already taken"), std::string::npos) << dup.err;
}

}  // namespace
