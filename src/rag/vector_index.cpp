// VectorIndex over hnswlib's HierarchicalNSW with the inner-product space (unit vectors: cosine).
#include "tunekit/rag/vector_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <hnswlib/hnswlib.h>
#include <nlohmann/json.hpp>

#include "rag/hnsw_file.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/mapped_file.h"

namespace tunekit::rag {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "tunekit-hnsw-1";
constexpr size_t kInitialCapacity = 1024;

fs::path side_path(const fs::path& path) { return fs::path(path.string() + ".json"); }

std::string hash_to_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", (unsigned long long)hash);
  return text;
}

std::string rebuild_hint() { return "; rebuild it with `tunekit kb embed --kb KB --encoder DIR`"; }

// fsync(path) (a file or a folder); folders that cannot be fsync'ed (EINVAL) are accepted.
void fsync_path(const fs::path& path, bool is_folder) {
  int fd = ::open(path.c_str(), is_folder ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) fail(path.string(), ": cannot open to fsync (", std::strerror(errno), ")");
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && !(is_folder && err == EINVAL)) fail(path.string(), ": fsync failed (", std::strerror(err), ")");
}

}  // namespace

struct VectorIndex::Graph {
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> hnsw;
  Graph(int64_t dim, size_t capacity, const VectorIndexParams& p)
      : space(size_t(dim)), hnsw(&space, capacity, size_t(p.M), size_t(p.ef_construction)) {}
  Graph(int64_t dim, const fs::path& path, size_t count) : space(size_t(dim)), hnsw(&space, path.string(), false, count) {
    // hnswlib 0.6.2's loading constructor adds the deleted elements to num_deleted_ without setting
    // it to 0 first (an uninitialised read: garbage under ASan, and possibly in any build): count again.
    hnsw.num_deleted_ = 0;
    for (size_t i = 0; i < hnsw.cur_element_count; ++i) hnsw.num_deleted_ += hnsw.isMarkedDeleted(hnswlib::tableint(i));
  }
};

VectorIndex::VectorIndex(int64_t dim, std::string encoder_name, const VectorIndexParams& params)
    : VectorIndex(dim, std::move(encoder_name), nullptr, params) {}

VectorIndex::VectorIndex(int64_t dim, std::string encoder_name, std::unique_ptr<Graph> graph,
                         const VectorIndexParams& params)
    : dim_(dim), encoder_name_(std::move(encoder_name)), params_(params), graph_(std::move(graph)) {
  check(dim > 0, "vector index: dimension ", dim, " must be positive");
  check(params.M >= 2 && params.ef_construction >= 1, "vector index: M=", params.M, " and ef_construction=",
        params.ef_construction, " must be at least 2 and 1");
  if (!graph_) graph_ = std::make_unique<Graph>(dim, kInitialCapacity, params);
  set_ef_search(params.ef_search);
}

VectorIndex::~VectorIndex() = default;

int64_t VectorIndex::size() const { return int64_t(graph_->hnsw.cur_element_count - graph_->hnsw.num_deleted_); }

bool VectorIndex::contains(int64_t id) const {
  auto it = graph_->hnsw.label_lookup_.find(hnswlib::labeltype(id));
  return it != graph_->hnsw.label_lookup_.end() && !graph_->hnsw.isMarkedDeleted(it->second);
}

std::vector<int64_t> VectorIndex::ids() const {
  std::vector<int64_t> out;
  out.reserve(size_t(size()));
  for (const auto& [label, internal] : graph_->hnsw.label_lookup_)
    if (!graph_->hnsw.isMarkedDeleted(internal)) out.push_back(int64_t(label));
  std::sort(out.begin(), out.end());
  return out;
}

void VectorIndex::set_ef_search(int64_t ef) {
  check(ef >= 1, "vector index: ef_search ", ef, " must be at least 1");
  params_.ef_search = ef;
  graph_->hnsw.setEf(size_t(ef));
}

void VectorIndex::reserve(int64_t n) {
  size_t capacity = graph_->hnsw.max_elements_;
  if (size_t(n) <= capacity) return;
  graph_->hnsw.resizeIndex(std::max(size_t(n), 2 * capacity));
}

void VectorIndex::add(const std::vector<int64_t>& ids, const float* vectors) {
  for (int64_t id : ids) check(id >= 0, "vector index: id ", id, " is negative");
  reserve(int64_t(graph_->hnsw.cur_element_count + ids.size()));
  // [ids.size(), dim]: hnswlib's insertion locks per element, so rows go in from the pool's threads.
  parallel_for(int64_t(ids.size()), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) graph_->hnsw.addPoint(vectors + i * dim_, hnswlib::labeltype(ids[i]));
  }, 16);
}

bool VectorIndex::remove(int64_t id) {
  if (!contains(id)) return false;
  graph_->hnsw.markDelete(hnswlib::labeltype(id));
  return true;
}

std::vector<Hit> VectorIndex::search(const float* query, int64_t k) const {
  std::vector<Hit> hits;
  if (k <= 0 || size() == 0) return hits;
  auto queue = graph_->hnsw.searchKnn(query, size_t(k));  // worst first; distance = 1 - dot
  hits.resize(queue.size());
  for (size_t i = hits.size(); i-- > 0; queue.pop())
    hits[i] = Hit{int64_t(queue.top().second), 1.0 - double(queue.top().first)};
  return hits;
}

void VectorIndex::save(const fs::path& path) const {
  // hnswlib writes through an ofstream without reporting errors: write a temp file, check its
  // length, hash it, fsync, rename; then the side file (atomically) that vouches for it.
  const fs::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  try {
    graph_->hnsw.saveIndex(temp.string());
    auto file = MappedFile::open(temp);
    const auto& h = graph_->hnsw;
    uint64_t expected = 96 + h.cur_element_count * h.size_data_per_element_;
    for (size_t i = 0; i < h.cur_element_count; ++i)
      expected += 4 + (h.element_levels_[i] > 0 ? h.size_links_per_element_ * h.element_levels_[i] : 0);
    check(file->size() == expected, path.string(), ": writing the vector index stopped after ", file->size(),
          " of ", expected, " bytes (disk full?)");
    nlohmann::json side = {{"format", kFormat},          {"dim", dim_},
                           {"encoder", encoder_name_},   {"count", size()},
                           {"bytes", file->size()},      {"hash", hash_to_hex(hnsw_file::hash_bytes(file->data(), file->size()))}};
    fsync_path(temp, false);
    if (::rename(temp.c_str(), path.c_str()) != 0) fail(path.string(), ": cannot rename the temp file into place (", std::strerror(errno), ")");
    fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path(), true);
    write_file_atomic(side_path(path), side.dump(2) + "\n");
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
}

std::unique_ptr<VectorIndex> VectorIndex::load(const fs::path& path, const VectorIndexParams& params) {
  const fs::path side_file = side_path(path);
  check(fs::exists(path), path.string(), ": no vector index here", rebuild_hint());
  check(fs::exists(side_file), side_file.string(), ": missing (it describes ", path.filename().string(), ")", rebuild_hint());
  nlohmann::json side = read_json_file(side_file);
  int64_t dim = 0, count = 0;
  uint64_t bytes = 0;
  std::string encoder, hash;
  try {
    check(side.at("format").get<std::string>() == kFormat, "format is not ", kFormat);
    dim = side.at("dim").get<int64_t>();
    count = side.at("count").get<int64_t>();
    bytes = side.at("bytes").get<uint64_t>();
    encoder = side.at("encoder").get<std::string>();
    hash = side.at("hash").get<std::string>();
  } catch (const std::exception& e) {
    fail(side_file.string(), ": not a tunekit vector index description (", e.what(), ")", rebuild_hint());
  }
  check(dim > 0 && dim <= 65536, side_file.string(), ": dimension ", dim, " is out of range", rebuild_hint());

  auto file = MappedFile::open(path);
  check(file->size() == bytes, path.string(), ": ", file->size(), " bytes, but ", side_file.filename().string(),
        " says ", bytes, " (an interrupted write?)", rebuild_hint());
  check(hash_to_hex(hnsw_file::hash_bytes(file->data(), file->size())) == hash, path.string(),
        ": contents do not match the hash in ", side_file.filename().string(), " (corrupt file?)", rebuild_hint());
  hnsw_file::validate(*file, dim);
  uint64_t n_elements;
  std::memcpy(&n_elements, file->data() + 16, 8);
  file.reset();

  std::unique_ptr<Graph> graph;
  try {
    graph = n_elements == 0 ? std::make_unique<Graph>(dim, kInitialCapacity, params)
                            : std::make_unique<Graph>(dim, path, size_t(n_elements));
  } catch (const std::exception& e) {
    fail(path.string(), ": cannot load the vector index (", e.what(), ")", rebuild_hint());
  }
  auto index = std::unique_ptr<VectorIndex>(new VectorIndex(dim, encoder, std::move(graph), params));
  check(index->size() == count, path.string(), ": holds ", index->size(), " vectors, but ",
        side_file.filename().string(), " says ", count, rebuild_hint());
  return index;
}

}  // namespace tunekit::rag
