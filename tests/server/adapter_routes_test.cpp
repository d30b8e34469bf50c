// POST /v1/load_lora_adapter and /v1/unload_lora_adapter over HTTP (vLLM's API): a loaded adapter
// is listed and answers with the text generate() gives for it; an unloaded one is 404; paths
// outside --adapter-dir are 403; with --max-loras 1, two adapters taking turns are evicted and
// read again, each still answering with its own text.
#include <gtest/gtest.h>

#include "adapter_files.h"
#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class AdapterRoutes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(test::shared_dir() / test::kStoriesModel)) return;
    const fs::path model_path = test::shared_dir() / test::kStoriesModel;
    model_ = std::make_unique<Model>(load_model(model_path));
    tok_ = load_tokenizer_for_model(model_path, test::shared_dir() / "models/stories260K/tok512.bin");
    root_ = test::temp_dir("adapter_routes");
    test::write_random_adapter(model_->config, root_ / "allowed" / "one", 1);
    test::write_random_adapter(model_->config, root_ / "allowed" / "two", 2);
    test::write_random_adapter(model_->config, root_ / "outside" / "three", 3);
  }
  static void TearDownTestSuite() {
    tok_.reset();
    model_.reset();
  }
  void start(std::vector<fs::path> allowed, int64_t max_loras = 0) {
    adapters_ = std::make_unique<server::AdapterRegistry>(model_->config,
                                                          server::AdapterRegistryOptions{std::move(allowed), max_loras});
    served_.name = "stories260K";
    served_.model = model_.get();
    served_.tokenizer = tok_.get();
    served_.adapters = adapters_.get();
    engine_ = std::make_unique<server::SerialEngine>(*model_, *tok_);
    server_ = std::make_unique<test::RunningServer>(served_, *engine_);
  }
  void SetUp() override { TUNEKIT_REQUIRE_SHARED(test::kStoriesModel); }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }

  httplib::Result load(const std::string& name, const fs::path& path) {
    return server_->post("/v1/load_lora_adapter", {{"lora_name", name}, {"lora_path", path.string()}});
  }
  // The greedy completion of "Once upon a time" by model name (status checked).
  std::string complete(const std::string& model) {
    auto res = server_->post("/v1/completions", {{"model", model}, {"prompt", "Once upon a time"}, {"max_tokens", 24},
                                                 {"temperature", 0}});
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res && res->status == 200 ? json::parse(res->body)["choices"][0]["text"].get<std::string>() : "";
  }
  // What generate() gives with the adapter read straight from its folder.
  std::string expected(const fs::path& dir) const {
    const LoraAdapter adapter = load_peft_adapter(dir, model_->config);
    return test::reference_generate(*model_, *tok_, tok_->encode("Once upon a time", true), 24, &adapter,
                                    /*continues_prompt=*/true).text;
  }
  std::vector<std::string> model_ids() {
    std::vector<std::string> ids;
    const json models = json::parse(server_->client().Get("/v1/models")->body);
    for (const json& m : models["data"]) ids.push_back(m["id"]);
    return ids;
  }
  static json error_of(const httplib::Result& res, int status) {
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body, nullptr, false);
    EXPECT_TRUE(j.contains("error")) << res->body;
    return j.contains("error") ? j["error"] : json();
  }

  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline fs::path root_;
  std::unique_ptr<server::AdapterRegistry> adapters_;
  server::ServedModel served_;
  std::unique_ptr<server::SerialEngine> engine_;
  std::unique_ptr<test::RunningServer> server_;
};

TEST_F(AdapterRoutes, LoadServeAndUnloadAnAdapter) {
  start({root_ / "allowed"});
  const std::string base = complete("stories260K");
  auto loaded = load("one", root_ / "allowed" / "one");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->status, 200) << loaded->body;
  EXPECT_EQ(loaded->body, "Success: LoRA adapter 'one' added successfully.");
  EXPECT_EQ(model_ids(), (std::vector<std::string>{"stories260K", "one"}));
  const std::string want = expected(root_ / "allowed" / "one");
  EXPECT_NE(want, base);
  EXPECT_EQ(complete("one"), want);

  json taken = error_of(load("one", root_ / "allowed" / "two"), 400);
  EXPECT_EQ(taken["code"], "adapter_exists");
  error_of(load("stories260K", root_ / "allowed" / "two"), 400);  // the base model's name

  auto unloaded = server_->post("/v1/unload_lora_adapter", {{"lora_name", "one"}});
  ASSERT_TRUE(unloaded);
  EXPECT_EQ(unloaded->status, 200);
  EXPECT_EQ(unloaded->body, "Success: LoRA adapter 'one' removed successfully.");
  EXPECT_EQ(model_ids(), (std::vector<std::string>{"stories260K"}));
  auto gone = server_->post("/v1/completions", {{"model", "one"}, {"prompt", "Once"}});
  EXPECT_EQ(error_of(gone, 404)["code"], "model_not_found");
  EXPECT_EQ(error_of(server_->post("/v1/unload_lora_adapter", {{"lora_name", "one"}}), 404)["code"], "adapter_not_found");
  EXPECT_EQ(complete("stories260K"), base);
}

TEST_F(AdapterRoutes, PathsOutsideTheAllowedFolderAre403) {
  start({root_ / "allowed"});
  fs::create_directory_symlink(root_ / "outside" / "three", root_ / "allowed" / "sneaky");
  for (const fs::path& p : {root_ / "allowed" / ".." / "outside" / "three", root_ / "outside" / "three",
                            root_ / "allowed" / "sneaky", fs::path("/etc")}) {
    json e = error_of(load("x", p), 403);
    EXPECT_EQ(e["code"], "path_not_allowed") << p;
    EXPECT_EQ(e["param"], "lora_path");
  }
  EXPECT_EQ(error_of(load("x", root_ / "allowed" / "missing"), 404)["code"], "adapter_not_found");
  EXPECT_EQ(model_ids(), (std::vector<std::string>{"stories260K"}));
  fs::remove(root_ / "allowed" / "sneaky");
}

TEST_F(AdapterRoutes, BadBodiesAre400) {
  start({root_ / "allowed"});
  auto post_text = [&](const char* path, const std::string& body) {
    return server_->client().Post(path, body, "application/json");
  };
  EXPECT_EQ(error_of(post_text("/v1/load_lora_adapter", "{\"lora_name\": "), 400)["code"], "invalid_json");
  EXPECT_EQ(error_of(server_->post("/v1/load_lora_adapter", {{"lora_name", "x"}}), 400)["param"], "lora_path");
  EXPECT_EQ(error_of(server_->post("/v1/load_lora_adapter", {{"lora_path", "x"}}), 400)["param"], "lora_name");
  EXPECT_EQ(error_of(server_->post("/v1/unload_lora_adapter", {{"lora_name", 5}}), 400)["param"], "lora_name");
  const std::string nul_path = (root_ / "allowed" / "one").string() + std::string(1, '\0') + "/../../outside/three";
  EXPECT_EQ(error_of(server_->post("/v1/load_lora_adapter", {{"lora_name", "x"}, {"lora_path", nul_path}}), 400)["param"],
            "lora_path");
  fs::create_directories(root_ / "allowed" / "not-an-adapter");
  EXPECT_EQ(error_of(load("x", root_ / "allowed" / "not-an-adapter"), 400)["code"], "invalid_adapter");
}

TEST_F(AdapterRoutes, WithoutAnAdapterDirRuntimeLoadingIsOff) {
  start({});
  EXPECT_EQ(error_of(load("one", root_ / "allowed" / "one"), 403)["code"], "runtime_loading_disabled");
  EXPECT_EQ(error_of(server_->post("/v1/unload_lora_adapter", {{"lora_name", "one"}}), 403)["code"],
            "runtime_loading_disabled");
}

TEST_F(AdapterRoutes, MaxLorasEvictsAndRequestsReadTheAdapterAgain) {
  start({root_ / "allowed"}, 1);
  ASSERT_EQ(load("one", root_ / "allowed" / "one")->status, 200);
  ASSERT_EQ(load("two", root_ / "allowed" / "two")->status, 200);  // evicts one
  const std::string want_one = expected(root_ / "allowed" / "one"), want_two = expected(root_ / "allowed" / "two");
  EXPECT_NE(want_one, want_two);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(complete("one"), want_one);
    EXPECT_EQ(complete("two"), want_two);
  }
  const server::AdapterRegistryStats s = adapters_->stats();
  EXPECT_EQ(s.resident, 1);
  // Each turn reads its adapter again, unless the engine's thread still held the copy the last
  // request used (then it is revived without a read): between 1 and 4 reloads.
  EXPECT_GE(s.loads, 2 + 1);
  EXPECT_LE(s.loads, 2 + 4);
  EXPECT_GE(s.evictions, s.loads - 1);  // every read past the first beyond the bound evicted one
}

}  // namespace
