// AdapterRegistry on its own: runtime loads only from inside the allowed folders (.., symlinks and
// absolute paths elsewhere refused), the LRU bound with reload from the folder, and adapters held
// by running requests surviving eviction and unloading.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "adapter_files.h"
#include "server_fixture.h"
#include "tunekit/server/adapter_registry.h"

using namespace tunekit;
namespace fs = std::filesystem;
using Kind = server::AdapterError::Kind;

namespace {

class AdapterRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(test::shared_dir() / test::kStoriesModel)) return;
    model_ = std::make_unique<Model>(load_model(test::shared_dir() / test::kStoriesModel));
    root_ = test::temp_dir("adapter_registry");
    allowed_ = root_ / "allowed";
    outside_ = root_ / "outside";
    for (int i = 0; i < 3; ++i)
      written_.push_back(test::write_random_adapter(model_->config, allowed_ / ("a" + std::to_string(i)), 100 + i));
    test::write_random_adapter(model_->config, outside_ / "secret", 200);
    fs::create_directory_symlink(outside_ / "secret", allowed_ / "link-out");  // a folder symlink leaving
    fs::create_directories(allowed_ / "file-link");                            // a file symlink leaving
    fs::copy_file(outside_ / "secret" / "adapter_config.json", allowed_ / "file-link" / "adapter_config.json");
    fs::create_symlink(outside_ / "secret" / "adapter_model.safetensors", allowed_ / "file-link" / "adapter_model.safetensors");
    test::write_random_adapter(model_->config, root_ / "allowed-evil" / "x", 300);  // shares the prefix "allowed"
  }
  static void TearDownTestSuite() { model_.reset(); }
  void SetUp() override { TUNEKIT_REQUIRE_SHARED(test::kStoriesModel); }

  server::AdapterRegistry registry(int64_t max_resident = 0) const {
    return server::AdapterRegistry(model_->config, {{allowed_}, max_resident});
  }
  // The kind of AdapterError that f throws (fails when it throws nothing).
  template <typename F>
  static Kind error_kind(F f) {
    try {
      f();
    } catch (const server::AdapterError& e) {
      return e.kind;
    }
    ADD_FAILURE() << "no AdapterError";
    return Kind::invalid;
  }
  static void expect_same_weights(const LoraAdapter& a, const LoraAdapter& b) {
    const LoraPair* pa = a.find(0, a.targets[0]);
    const LoraPair* pb = b.find(0, b.targets[0]);
    ASSERT_TRUE(pa && pb);
    ASSERT_EQ(pa->B.numel(), pb->B.numel());
    for (int64_t i = 0; i < pa->B.numel(); ++i) ASSERT_EQ(pa->B.as<float>()[i], pb->B.as<float>()[i]);
  }

  static inline std::unique_ptr<Model> model_;
  static inline fs::path root_, allowed_, outside_;
  static inline std::vector<LoraAdapter> written_;
};

TEST_F(AdapterRegistryTest, LoadsInsideTheAllowedFolderByAnyPathThatStaysThere) {
  auto r = registry();
  r.load_allowed("plain", allowed_ / "a0");
  r.load_allowed("dotted", allowed_ / "a1" / ".." / "a0");  // .. that stays inside is fine
  expect_same_weights(*r.acquire("plain"), written_[0]);
  expect_same_weights(*r.acquire("dotted"), written_[0]);
  EXPECT_EQ(r.names(), (std::vector<std::string>{"dotted", "plain"}));
  EXPECT_EQ(r.acquire("nope"), nullptr);
}

TEST_F(AdapterRegistryTest, RefusesPathsOutsideTheAllowedFolders) {
  auto r = registry();
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", allowed_ / ".." / "outside" / "secret"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", outside_ / "secret"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", allowed_ / "link-out"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", allowed_ / "file-link"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", root_ / "allowed-evil" / "x"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", "/etc"); }), Kind::forbidden);
  EXPECT_EQ(error_kind([&] { r.load_allowed("x", allowed_ / "missing"); }), Kind::not_found);
  EXPECT_TRUE(r.names().empty());
  server::AdapterRegistry closed(model_->config);  // no allowed folders: runtime loading is off
  EXPECT_FALSE(closed.runtime_loading());
  EXPECT_EQ(error_kind([&] { closed.load_allowed("x", allowed_ / "a0"); }), Kind::forbidden);
}

TEST_F(AdapterRegistryTest, NamesAreUniqueAndUnloadForgetsThem) {
  auto r = registry();
  r.load_allowed("a", allowed_ / "a0");
  EXPECT_EQ(error_kind([&] { r.load_allowed("a", allowed_ / "a1"); }), Kind::exists);
  EXPECT_EQ(error_kind([&] { r.unload("b"); }), Kind::not_found);
  std::shared_ptr<const LoraAdapter> held = r.acquire("a");
  r.unload("a");
  EXPECT_EQ(r.acquire("a"), nullptr);
  expect_same_weights(*held, written_[0]);  // a running request keeps its copy
  r.load_allowed("a", allowed_ / "a1");     // the name is free again
  expect_same_weights(*r.acquire("a"), written_[1]);
}

TEST_F(AdapterRegistryTest, NotAnAdapterIsInvalid) {
  fs::create_directories(allowed_ / "empty");
  auto r = registry();
  EXPECT_EQ(error_kind([&] { r.load_allowed("e", allowed_ / "empty"); }), Kind::invalid);
}

TEST_F(AdapterRegistryTest, LruBoundEvictsTheLeastRecentlyUsedAndReloadsIt) {
  auto r = registry(2);
  r.load_allowed("a", allowed_ / "a0");
  r.load_allowed("b", allowed_ / "a1");
  r.acquire("a");                        // b is now the least recently used
  r.load_allowed("c", allowed_ / "a2");  // evicts b
  server::AdapterRegistryStats s = r.stats();
  EXPECT_EQ(s.registered, 3);
  EXPECT_EQ(s.resident, 2);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.loads, 3);
  expect_same_weights(*r.acquire("b"), written_[1]);  // read again from its folder, evicting a
  s = r.stats();
  EXPECT_EQ(s.loads, 4);
  EXPECT_EQ(s.resident, 2);
  EXPECT_EQ(s.evictions, 2);
  expect_same_weights(*r.acquire("c"), written_[2]);  // c stayed resident
  EXPECT_EQ(r.stats().loads, 4);
}

TEST_F(AdapterRegistryTest, AnEvictedAdapterStillInUseIsRevivedNotReread) {
  auto r = registry(1);
  r.load_allowed("a", allowed_ / "a0");
  std::shared_ptr<const LoraAdapter> running = r.acquire("a");
  r.load_allowed("b", allowed_ / "a1");  // evicts a from the registry; the request still holds it
  EXPECT_EQ(r.stats().evictions, 1);
  EXPECT_EQ(r.acquire("a").get(), running.get());  // the same copy, no second read
  EXPECT_EQ(r.stats().loads, 2);
}

TEST_F(AdapterRegistryTest, InMemoryAdaptersAreOutsideTheBound) {
  auto r = registry(1);
  r.add("mem", std::make_shared<const LoraAdapter>(written_[2]));
  r.load_allowed("a", allowed_ / "a0");
  r.load_allowed("b", allowed_ / "a1");
  EXPECT_EQ(r.stats().resident, 2);  // mem + b
  expect_same_weights(*r.acquire("mem"), written_[2]);
}

TEST_F(AdapterRegistryTest, ConcurrentRequestsUnderATightBoundEachGetTheirOwnWeights) {
  auto r = registry(1);
  const std::vector<std::string> names = {"a0", "a1", "a2"};
  for (const std::string& name : names) r.load_allowed(name, allowed_ / name);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) {
        const int i = (t + k) % 3;
        std::shared_ptr<const LoraAdapter> a = r.acquire(names[size_t(i)]);
        const LoraPair* got = a->find(0, a->targets[0]);
        const LoraPair* want = written_[size_t(i)].find(0, a->targets[0]);
        if (std::memcmp(got->B.as<float>(), want->B.as<float>(), size_t(want->B.numel()) * 4) != 0) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(r.stats().resident, 1);
}

TEST_F(AdapterRegistryTest, AMissingAllowedFolderIsAStartupError) {
  EXPECT_THROW(server::AdapterRegistry(model_->config, {{root_ / "no-such-folder"}, 0}), Error);
}

}  // namespace
