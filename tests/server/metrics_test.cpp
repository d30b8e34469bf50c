// GET /metrics: valid Prometheus text whose counters agree with what the requests' own responses
// reported (usage), plus the engine's and the adapter registry's numbers; summaries use the
// nearest-rank quantiles of the observations.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "server/metrics.h"
#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

// name{labels} -> value, checking the syntax of every line and that each sample's family was
// declared by a # TYPE line first.
std::map<std::string, double> parse_prometheus(const std::string& text) {
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (\S+)$)");
  static const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)$)");
  std::map<std::string, double> out;
  std::map<std::string, std::string> types;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      types[m[1]] = m[2];
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, m, sample)) << "not a sample line: " << line;
    if (m.empty()) continue;
    std::string family = m[1];
    for (const char* suffix : {"_sum", "_count"})
      if (!types.count(family) && family.size() > strlen(suffix) && family.ends_with(suffix))
        family.resize(family.size() - strlen(suffix));
    EXPECT_TRUE(types.count(family)) << "no # TYPE before " << line;
    const std::string value = m[4];
    out[m[1].str() + m[2].str()] = value == "NaN" ? NAN : std::stod(value);
  }
  return out;
}

TEST(ServerMetrics, SummariesUseNearestRankQuantiles) {
  server::ServerMetrics metrics;
  for (int i = 100; i >= 1; --i) metrics.observe_duration("/v1/completions", i);  // order does not matter
  const auto m = parse_prometheus(metrics.render({}, nullptr));
  const std::string s = "tunekit_request_duration_seconds";
  EXPECT_EQ(m.at(s + R"({endpoint="/v1/completions",quantile="0.5"})"), 50);
  EXPECT_EQ(m.at(s + R"({endpoint="/v1/completions",quantile="0.9"})"), 90);
  EXPECT_EQ(m.at(s + R"({endpoint="/v1/completions",quantile="0.99"})"), 99);
  EXPECT_EQ(m.at(s + R"(_sum{endpoint="/v1/completions"})"), 5050);
  EXPECT_EQ(m.at(s + R"(_count{endpoint="/v1/completions"})"), 100);
  EXPECT_EQ(m.count("tunekit_adapters_resident"), 0u);  // no registry given
}

class Metrics : public test::StoriesServer {};

TEST_F(Metrics, CountersAgreeWithTheResponses) {
  int64_t prompt = 0, completion = 0;
  const auto add_usage = [&](const json& usage) {
    prompt += usage["prompt_tokens"].get<int64_t>();
    completion += usage["completion_tokens"].get<int64_t>();
  };
  for (auto [text, n] : {std::pair{"Once upon a time", 8}, {"Lily went", 5}}) {
    auto res = server_->post("/v1/completions", {{"prompt", text}, {"max_tokens", n}, {"temperature", 0}});
    ASSERT_EQ(res->status, 200);
    add_usage(json::parse(res->body)["usage"]);
  }
  auto stream = server_->post("/v1/completions", {{"model", "tiny-lora"}, {"prompt", "The dog"}, {"max_tokens", 6},
                                                  {"temperature", 0}, {"stream", true},
                                                  {"stream_options", {{"include_usage", true}}}});
  ASSERT_EQ(stream->status, 200);
  const auto events = test::sse_payloads(stream->body);
  ASSERT_GE(events.size(), 2u);
  add_usage(json::parse(events[events.size() - 2])["usage"]);
  EXPECT_EQ(server_->post("/v1/completions", {{"model", "nope"}, {"prompt", "x"}})->status, 404);
  EXPECT_EQ(server_->client().Get("/v1/models")->status, 200);
  EXPECT_EQ(server_->client().Get("/no/such/route")->status, 404);
  EXPECT_EQ(server_->post("/v1/embeddings", {{"input", "Once upon a time"}})->status, 200);

  // A request is counted once its response is written (httplib's logger), so the last ones may
  // still be on their way when the client already has the answer: wait for all 7 to be counted.
  std::string content_type;
  std::map<std::string, double> m;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto res = server_->client().Get("/metrics");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    content_type = res->get_header_value("Content-Type");
    m = parse_prometheus(res->body);
    double counted = 0;
    for (const auto& [name, value] : m) counted += name.rfind("tunekit_requests_total{", 0) == 0 ? value : 0;
    if (counted >= 7) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string c = R"({endpoint="/v1/completions")";
  EXPECT_EQ(m.at("tunekit_requests_total" + c + R"(,status="200"})"), 3);
  EXPECT_EQ(m.at("tunekit_requests_total" + c + R"(,status="404"})"), 1);
  EXPECT_EQ(m.at(R"(tunekit_requests_total{endpoint="/v1/models",status="200"})"), 1);
  EXPECT_EQ(m.at(R"(tunekit_requests_total{endpoint="other",status="404"})"), 1);
  EXPECT_EQ(m.at(R"(tunekit_requests_total{endpoint="/v1/embeddings",status="200"})"), 1);
  EXPECT_EQ(m.at("tunekit_prompt_tokens_total" + c + "}"), prompt);
  EXPECT_EQ(m.at("tunekit_completion_tokens_total" + c + "}"), completion);
  EXPECT_EQ(m.at(R"(tunekit_prompt_tokens_total{endpoint="/v1/embeddings"})"),
            double(tok_->encode("Once upon a time", true).size()));
  EXPECT_EQ(m.at("tunekit_engine_generated_tokens_total"), completion);
  EXPECT_EQ(m.at("tunekit_engine_prompt_tokens_total"), prompt);
  EXPECT_EQ(m.at("tunekit_engine_requests_finished_total"), 3);
  EXPECT_EQ(m.at("tunekit_engine_running"), 0);
  EXPECT_EQ(m.at("tunekit_time_to_first_token_seconds_count" + c + "}"), 3);
  EXPECT_EQ(m.at("tunekit_request_duration_seconds_count" + c + "}"), 3);
  const double ttft_p99 = m.at("tunekit_time_to_first_token_seconds" + c + R"(,quantile="0.99"})");
  const double duration_p99 = m.at("tunekit_request_duration_seconds" + c + R"(,quantile="0.99"})");
  EXPECT_GT(ttft_p99, 0);
  EXPECT_LE(ttft_p99, duration_p99);
  EXPECT_EQ(m.at("tunekit_adapters_registered"), 1);
  EXPECT_EQ(m.at("tunekit_adapters_resident"), 1);
}

}  // namespace
