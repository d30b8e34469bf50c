#include "tunekit/io/atomic_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "test_paths.h"
#include "tunekit/error.h"

using namespace tunekit;

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
size_t count_entries(const std::filesystem::path& dir) {
  return size_t(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}
}  // namespace

TEST(AtomicFile, WritesAndReplaces) {
  auto dir = test::temp_dir("atomic_ok");
  write_file_atomic(dir / "a.bin", "first");
  EXPECT_EQ(slurp(dir / "a.bin"), "first");
  write_file_atomic(dir / "a.bin", [](AtomicFile& f) {
    f.write("xy");
    f.pad_to(8);
    EXPECT_EQ(f.offset(), 8u);
    std::string big(3 << 20, 'z');  // larger than the internal buffer
    f.write(big);
    f.write("!");
  });
  std::string got = slurp(dir / "a.bin");
  ASSERT_EQ(got.size(), 8u + (3u << 20) + 1);
  EXPECT_EQ(got.substr(0, 8), std::string("xy\0\0\0\0\0\0", 8));
  EXPECT_EQ(got.back(), '!');
  EXPECT_EQ(count_entries(dir), 1u);  // no temp file left
}

TEST(AtomicFile, FailureLeavesOldFileAndNoTemp) {
  auto dir = test::temp_dir("atomic_fail");
  write_file_atomic(dir / "keep.bin", "old contents");
  EXPECT_THROW(write_file_atomic(dir / "keep.bin",
                                 [](AtomicFile& f) {
                                   f.write("partial new contents");
                                   EXPECT_TRUE(std::filesystem::exists(f.temp_path()));
                                   EXPECT_EQ(f.temp_path().parent_path(), f.path().parent_path());
                                   fail("simulated failure while writing");
                                 }),
               Error);
  EXPECT_EQ(slurp(dir / "keep.bin"), "old contents");
  EXPECT_EQ(count_entries(dir), 1u);
}

TEST(AtomicFile, ErrorsNameThePath) {
  auto dir = test::temp_dir("atomic_err");
  auto bad = dir / "no-such-folder" / "x.bin";
  try {
    write_file_atomic(bad, "data");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
  std::filesystem::create_directories(dir / "is-a-folder");
  EXPECT_THROW(write_file_atomic(dir / "is-a-folder", "data"), Error);  // rename over a folder fails
  EXPECT_EQ(count_entries(dir), 1u);
}
