#include "rag/hnsw_file.h"

#include <cmath>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "tunekit/error.h"

namespace tunekit::rag::hnsw_file {
namespace {

constexpr size_t kHeaderBytes = 96;
constexpr int kMaxLevel = 64;  // hnswlib's levels are ~log(n)/log(M); 64 is far beyond any real index

template <class... Parts>
[[noreturn]] void bad_index(const MappedFile& file, const Parts&... parts) {
  fail(file.path().string(), ": not a valid vector index (", parts...,
       "); rebuild it with `tunekit kb embed --kb KB --encoder DIR`");
}

// Reads little-endian PODs in order, failing (with the file's name) past the end.
class Reader {
 public:
  explicit Reader(const MappedFile& file) : file_(file) {}
  template <class T>
  T read() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, file_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  const uint8_t* take(size_t n) {
    need(n);
    const uint8_t* p = file_.data() + pos_;
    pos_ += n;
    return p;
  }
  size_t pos() const { return pos_; }

 private:
  void need(size_t n) const {
    if (n > file_.size() - pos_) bad_index(file_, "truncated: needs ", n, " more bytes at offset ", pos_);
  }
  const MappedFile& file_;
  size_t pos_ = 0;
};

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// One link list: u32 header whose low 16 bits are the count, then ids. Every id must be below count
// and (for upper levels) on at least that level.
template <class Bad>
void check_links(const uint8_t* list, uint64_t max_links, uint64_t n_elements, const std::vector<int>& levels,
                 int level, uint64_t element, const Bad& bad) {
  uint32_t n = u32_at(list) & 0xFFFF;
  if (n > max_links) bad("element ", element, " has ", n, " links on level ", level, ", at most ", max_links, " fit");
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t id = u32_at(list + 4 + 4 * j);
    if (id >= n_elements || levels[id] < level)
      bad("element ", element, " links to ", id, " on level ", level, ", which is not an element there");
  }
}

}  // namespace

uint64_t hash_bytes(const uint8_t* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  uint64_t tail = 0;
  if (i < n) std::memcpy(&tail, data + i, n - i);
  h = (h ^ tail) * 0x100000001b3ull;
  return (h ^ n) * 0x100000001b3ull;
}

void validate(const MappedFile& file, int64_t dim) {
  auto bad = [&](const auto&... parts) { bad_index(file, parts...); };
  Reader in(file);
  if (file.size() < kHeaderBytes) bad("the file has ", file.size(), " bytes, less than the ", kHeaderBytes, "-byte header");
  auto offset_level0 = in.read<uint64_t>();
  auto max_elements = in.read<uint64_t>();
  auto count = in.read<uint64_t>();
  auto element_bytes = in.read<uint64_t>();
  auto label_offset = in.read<uint64_t>();
  auto data_offset = in.read<uint64_t>();
  auto max_level = in.read<int32_t>();
  auto entry_point = in.read<uint32_t>();
  auto max_m = in.read<uint64_t>();
  auto max_m0 = in.read<uint64_t>();
  auto m = in.read<uint64_t>();
  auto mult = in.read<double>();
  in.read<uint64_t>();  // ef_construction: any value works

  if (m < 2 || m > 10000 || max_m != m || max_m0 != 2 * m) bad("graph degree M=", m, ", maxM=", max_m, ", maxM0=", max_m0);
  const uint64_t links0_bytes = 4 + 4 * max_m0;
  const uint64_t vector_bytes = 4 * uint64_t(dim);
  if (offset_level0 != 0 || data_offset != links0_bytes || label_offset != links0_bytes + vector_bytes ||
      element_bytes != label_offset + 8)
    bad("element layout (", element_bytes, " bytes, vector at ", data_offset, ", label at ", label_offset,
        ") does not match dimension ", dim, " and M=", m);
  if (count > max_elements) bad(count, " elements in a capacity of ", max_elements);
  if (!(std::isfinite(mult) && mult > 0)) bad("level multiplier ", mult);
  if (count > (file.size() - kHeaderBytes) / element_bytes) bad("truncated: ", count, " elements do not fit");
  if (count == 0 ? (max_level != -1) : (max_level < 0 || max_level > kMaxLevel || entry_point >= count))
    bad("entry point ", entry_point, " at level ", max_level, " for ", count, " elements");

  const uint8_t* level0 = in.take(count * element_bytes);
  // Upper levels: sizes first (neighbour checks need every element's level).
  const uint64_t upper_list_bytes = 4 + 4 * max_m;
  std::vector<int> levels(count);
  std::vector<const uint8_t*> upper(count, nullptr);
  for (uint64_t i = 0; i < count; ++i) {
    auto bytes = in.read<uint32_t>();
    if (bytes % upper_list_bytes != 0 || bytes / upper_list_bytes > uint64_t(max_level))
      bad("element ", i, " has ", bytes, " bytes of upper-level links");
    levels[i] = int(bytes / upper_list_bytes);
    upper[i] = in.take(bytes);
  }
  if (in.pos() != file.size()) bad(file.size() - in.pos(), " bytes after the last element");
  if (count > 0 && levels[entry_point] != max_level)
    bad("entry point ", entry_point, " is on level ", levels[entry_point], ", not ", max_level);

  std::unordered_set<uint64_t> labels;
  labels.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* element = level0 + i * element_bytes;
    check_links(element, max_m0, count, levels, 0, i, bad);
    for (int level = 1; level <= levels[i]; ++level)
      check_links(upper[i] + (level - 1) * upper_list_bytes, max_m, count, levels, level, i, bad);
    uint64_t label;
    std::memcpy(&label, element + label_offset, 8);
    if (!labels.insert(label).second) bad("label ", label, " appears twice");
  }
}

}  // namespace tunekit::rag::hnsw_file
