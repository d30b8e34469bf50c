// GET /: the chat page, compiled into the server, self-contained, and reachable without the API
// key (its own requests carry the key the user types). Its behaviour in a browser is checked by
// scripts/web_ui.sh (headless Chromium).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>

#include "server_fixture.h"

using namespace tunekit;

namespace {

std::string source_page() {
  std::ifstream in(test::source_dir() / "src/server/web/index.html", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class WebPage : public test::StoriesServer {
 protected:
  void SetUp() override {
    options_.api_key = "sk-page";
    StoriesServer::SetUp();
  }
};

TEST_F(WebPage, ServesTheEmbeddedPageWithoutTheKey) {
  auto res = server_->client().Get("/");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(res->body, source_page());  // the file as it is, byte for byte
  const std::string csp = res->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  // The API behind it still needs the key.
  auto kbs = server_->client().Get("/v1/knowledge_bases");
  ASSERT_TRUE(kbs);
  EXPECT_EQ(kbs->status, 401);
  httplib::Headers auth = {{"Authorization", "Bearer sk-page"}};
  auto with_key = server_->client().Get("/v1/knowledge_bases", auth);
  ASSERT_TRUE(with_key);
  EXPECT_EQ(with_key->status, 200);
  EXPECT_EQ(with_key->body, R"({"data":[],"object":"list"})");
}

TEST_F(WebPage, LoadsNothingFromElsewhere) {
  const std::string page = source_page();
  ASSERT_FALSE(page.empty());
  // No external script, style sheet, font or image: every src/href is local (or a #fragment).
  std::regex external(R"((src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, external));
  for (const char* api : {"/v1/models", "/v1/knowledge_bases", "/v1/chat/completions"})
    EXPECT_NE(page.find(api), std::string::npos) << api;
}

TEST_F(WebPage, OnlyGetServesIt) {
  auto res = server_->client().Post("/", "x", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_NE(res->status, 200);
}

}  // namespace
