// Safetensors reader: u64 LE header length N, N bytes of JSON, then the data section. Every entry's
// dtype, shape and data_offsets are validated (sizes agree, offsets inside the data section, no
// two tensors overlapping) before a pointer into the mapping is formed. Bytes of the data section
// that no tensor covers are allowed (as the Python library does on read).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "io/io_util.h"
#include "tunekit/io/safetensors.h"

namespace tunekit {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // as the safetensors library

struct StDType {
  const char* name;
  size_t bytes;
  bool loaded;
  DType dtype;
};
// Every dtype the safetensors format defines; only the first four are loaded.
constexpr StDType kDTypes[] = {
    {"F32", 4, true, DType::F32},      {"F16", 2, true, DType::F16},       {"BF16", 2, true, DType::BF16},
    {"I32", 4, true, DType::I32},      {"F64", 8, false, DType::F32},      {"I64", 8, false, DType::F32},
    {"U64", 8, false, DType::F32},     {"U32", 4, false, DType::F32},      {"I16", 2, false, DType::F32},
    {"U16", 2, false, DType::F32},     {"I8", 1, false, DType::F32},       {"U8", 1, false, DType::F32},
    {"BOOL", 1, false, DType::F32},    {"F8_E4M3", 1, false, DType::F32},  {"F8_E5M2", 1, false, DType::F32},
};

struct Entry {
  std::string name;
  const StDType* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

std::string shape_string(const std::vector<int64_t>& shape) {
  return Tensor::view(DType::F32, shape, nullptr, nullptr).shape_str();
}

Entry parse_entry(const std::string& file, const std::string& name, const nlohmann::json& j, uint64_t data_size) {
  Entry e;
  e.name = name;
  const std::string what = file + ": tensor '" + name + "'";
  if (!j.is_object()) fail(what, " is not a JSON object");
  auto dt = j.find("dtype");
  if (dt == j.end() || !dt->is_string()) fail(what, " has no \"dtype\" string");
  const auto& dts = dt->get_ref<const std::string&>();
  e.dtype = nullptr;
  for (const auto& d : kDTypes)
    if (dts == d.name) e.dtype = &d;
  if (!e.dtype) fail(what, " has unknown dtype '", dts, "'");

  auto sh = j.find("shape");
  if (sh == j.end() || !sh->is_array()) fail(what, " has no \"shape\" array");
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      fail(what, " has a shape entry that is not a non-negative integer (", d.type_name(), ")");
    e.shape.push_back(int64_t(d.get<uint64_t>()));
  }
  auto off = j.find("data_offsets");
  if (off == j.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail(what, " needs \"data_offsets\": [begin, end] of two non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end) fail(what, " has data_offsets [", e.begin, ", ", e.end, "] with begin after end");
  if (e.end > data_size)
    fail(what, " has data_offsets [", e.begin, ", ", e.end, "] past the end of the data section (", data_size,
         " bytes)");
  uint64_t numel, nbytes;
  if (!io_detail::checked_numel(e.shape, numel) || !io_detail::checked_mul(numel, e.dtype->bytes, nbytes))
    fail(what, " has shape ", shape_string(e.shape), " whose size overflows");
  if (e.end - e.begin != nbytes)
    fail(what, " is ", dts, " ", shape_string(e.shape), " = ", nbytes, " bytes, but data_offsets [", e.begin, ", ",
         e.end, "] span ", e.end - e.begin);
  return e;
}

std::string join_files(const std::vector<std::filesystem::path>& files) {
  std::string s;
  for (size_t i = 0; i < files.size(); ++i) s += (i ? ", " : "") + files[i].string();
  return s.empty() ? "safetensors" : s;
}

// Parses one file into out (tensors must not already be there); metadata only when want_meta.
void parse_into(const std::shared_ptr<const MappedFile>& file, TensorFile& out, bool want_meta) {
  const std::string name = file->path().string();
  io_detail::ByteReader r(*file);
  if (file->size() < 8)
    fail(name, ": not a safetensors file (", file->size(), " bytes; it must start with an 8-byte header length)");
  uint64_t n = r.read<uint64_t>("header length");
  if (n > kMaxHeader) fail(name, ": header length ", n, " exceeds the safetensors limit of ", kMaxHeader, " bytes");
  if (n > r.remaining())
    fail(name, ": header length ", n, " runs past the end of the file (", file->size(), " bytes)");
  if (n < 2) fail(name, ": header of ", n, " bytes cannot hold a JSON object");
  const char* h = reinterpret_cast<const char*>(r.take(n, "header"));
  if (h[0] != '{') fail(name, ": header does not start with '{' (not a safetensors file?)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h, h + n);
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) fail(name, ": header is not a JSON object");
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = file->size() - data_start;

  std::vector<Entry> entries;
  for (const auto& [key, val] : header.items()) {
    if (key == "__metadata__") {
      if (!val.is_object()) fail(name, ": __metadata__ is not a JSON object");
      for (const auto& [mk, mv] : val.items()) {
        if (!mv.is_string()) fail(name, ": __metadata__ value '", mk, "' is not a string");
        if (want_meta) out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (key.empty()) fail(name, ": a tensor has an empty name");  // nothing could look it up or write it back
    entries.push_back(parse_entry(name, key, val, data_size));
  }
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(name, ": tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name, "' overlap in the data section");

  for (const auto& e : entries) {
    if (out.tensors.count(e.name) || out.skipped.count(e.name))
      fail(name, ": tensor '", e.name, "' is also in ", join_files(out.files));
    if (!e.dtype->loaded) {
      out.skipped[e.name] = e.dtype->name;
      continue;
    }
    const uint8_t* p = file->data() + data_start + e.begin;
    out.tensors.emplace(e.name, io_detail::tensor_in_file(e.dtype->dtype, e.shape, p, size_t(e.end - e.begin), file));
  }
  out.files.push_back(file->path());
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TensorFile read_index(const std::filesystem::path& index_path) {
  const std::string name = index_path.string();
  auto file = MappedFile::open(index_path);
  nlohmann::json index;
  try {
    const char* p = reinterpret_cast<const char*>(file->data());
    index = nlohmann::json::parse(p, p + file->size());
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": not valid JSON (", e.what(), ")");
  }
  if (!index.is_object()) fail(name, ": not a JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object()) fail(name, ": has no \"weight_map\" object");
  std::vector<std::string> shards;  // sorted, distinct
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) fail(name, ": weight_map entry '", tensor, "' is not a file name");
    const auto& s = shard.get_ref<const std::string&>();
    if (s.empty() || s.find('/') != std::string::npos || s.find('\\') != std::string::npos || s == "." || s == "..")
      fail(name, ": weight_map entry '", tensor, "' names '", s, "', which is not a file name in the same folder");
    shards.push_back(s);
  }
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  if (shards.empty()) fail(name, ": weight_map is empty");

  TensorFile out;
  const auto dir = index_path.parent_path();
  for (size_t i = 0; i < shards.size(); ++i) parse_into(MappedFile::open(dir / shards[i]), out, i == 0);
  for (const auto& [tensor, shard] : wm->items()) {
    if (!out.tensors.count(tensor) && !out.skipped.count(tensor))
      fail(name, ": weight_map puts tensor '", tensor, "' in ", shard.get<std::string>(), ", but it is not there");
  }
  return out;
}

}  // namespace

TensorFile parse_safetensors(std::shared_ptr<const MappedFile> file) {
  TensorFile out;
  parse_into(file, out, true);
  return out;
}

TensorFile read_safetensors(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> indexes, files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const std::string f = entry.path().filename().string();
      if (ends_with(f, ".safetensors.index.json")) indexes.push_back(entry.path());
      else if (ends_with(f, ".safetensors") && entry.is_regular_file()) files.push_back(entry.path());
    }
    if (ec) fail(path.string(), ": cannot list the folder (", ec.message(), ")");
    std::sort(indexes.begin(), indexes.end());
    std::sort(files.begin(), files.end());
    if (fs::exists(path / "model.safetensors.index.json")) return read_index(path / "model.safetensors.index.json");
    if (indexes.size() == 1) return read_index(indexes[0]);
    if (indexes.size() > 1)
      fail(path.string(), ": holds several *.safetensors.index.json files; name the one to read");
    for (const char* preferred : {"model.safetensors", "adapter_model.safetensors"})
      if (fs::exists(path / preferred)) return read_safetensors(path / preferred);
    if (files.empty()) fail(path.string(), ": holds no .safetensors file");
    TensorFile out;  // several files without an index: read them all (names must be distinct)
    for (size_t i = 0; i < files.size(); ++i) parse_into(MappedFile::open(files[i]), out, i == 0);
    return out;
  }
  if (ends_with(path.filename().string(), ".json")) return read_index(path);
  return parse_safetensors(MappedFile::open(path));
}

const Tensor& TensorFile::get(const std::string& name) const {
  auto it = tensors.find(name);
  if (it != tensors.end()) return it->second;
  auto sk = skipped.find(name);
  if (sk != skipped.end())
    fail(join_files(files), ": tensor '", name, "' has dtype ", sk->second,
         ", which tunekit does not load (supported: F32, F16, BF16, I32)");
  fail(join_files(files), ": no tensor named '", name, "'");
}

}  // namespace tunekit
