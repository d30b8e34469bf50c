// GGUF reader: header, metadata and tensor infos are parsed with a bounds-checked cursor; every
// count is checked against the bytes left before anything is allocated, and every tensor's type,
// shape, size and offset is validated before a pointer into the mapping is formed.
#include <algorithm>
#include <limits>
#include <set>

#include "io/io_util.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

using io_detail::ByteReader;

std::string gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "type " + std::to_string(uint32_t(t));
}

namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

bool is_known_type(uint32_t t) { return t <= uint32_t(GgufType::F64); }
bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}
bool is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

// Smallest number of bytes a value of this type occupies (an empty string is its 8-byte length).
size_t min_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

std::string read_string(ByteReader& r, const std::string& what) {
  uint64_t len = r.read<uint64_t>(what + " length");
  if (len > r.remaining())
    fail(r.name(), ": ", what, " claims ", len, " bytes at offset ", r.pos(), ", but only ", r.remaining(),
         " bytes are left");
  const uint8_t* p = r.take(len, what);
  return std::string(reinterpret_cast<const char*>(p), size_t(len));
}

// Reads one scalar of type t (not ARRAY) as an int64, uint64, double, bool or string.
template <class Sink>
void read_scalar(ByteReader& r, GgufType t, const std::string& what, Sink&& sink) {
  switch (t) {
    case GgufType::U8: sink(uint64_t(r.read<uint8_t>(what))); break;
    case GgufType::I8: sink(int64_t(r.read<int8_t>(what))); break;
    case GgufType::U16: sink(uint64_t(r.read<uint16_t>(what))); break;
    case GgufType::I16: sink(int64_t(r.read<int16_t>(what))); break;
    case GgufType::U32: sink(uint64_t(r.read<uint32_t>(what))); break;
    case GgufType::I32: sink(int64_t(r.read<int32_t>(what))); break;
    case GgufType::U64: sink(r.read<uint64_t>(what)); break;
    case GgufType::I64: sink(r.read<int64_t>(what)); break;
    case GgufType::F32: sink(double(r.read<float>(what))); break;
    case GgufType::F64: sink(r.read<double>(what)); break;
    case GgufType::BOOL: sink(r.read<uint8_t>(what) != 0); break;
    case GgufType::STRING: sink(read_string(r, what)); break;
    case GgufType::ARRAY: fail(r.name(), ": ", what, ": nested arrays are not supported");
  }
}

GgufValue read_value(ByteReader& r, const std::string& key) {
  const std::string what = "value of '" + key + "'";
  uint32_t raw_type = r.read<uint32_t>("type of '" + key + "'");
  if (!is_known_type(raw_type)) fail(r.name(), ": metadata key '", key, "' has unknown type ", raw_type);
  GgufValue v;
  v.type = GgufType(raw_type);
  if (v.type != GgufType::ARRAY) {
    read_scalar(r, v.type, what, [&](auto x) { v.scalar = std::move(x); });
    return v;
  }
  uint32_t raw_elem = r.read<uint32_t>("element type of '" + key + "'");
  if (!is_known_type(raw_elem)) fail(r.name(), ": array '", key, "' has unknown element type ", raw_elem);
  v.array_type = GgufType(raw_elem);
  if (v.array_type == GgufType::ARRAY) fail(r.name(), ": array '", key, "' holds arrays (nested arrays are not supported)");
  uint64_t n = r.read<uint64_t>("length of '" + key + "'");
  if (n > r.remaining() / min_size(v.array_type))
    fail(r.name(), ": array '", key, "' claims ", n, " elements of ", gguf_type_name(v.array_type), ", but only ",
         r.remaining(), " bytes are left");
  const std::string elem_what = "element of '" + key + "'";
  if (v.array_type == GgufType::STRING) {
    v.strings.reserve(size_t(n));
    for (uint64_t i = 0; i < n; ++i) v.strings.push_back(read_string(r, elem_what));
  } else if (is_float(v.array_type)) {
    v.floats.reserve(size_t(n));
    for (uint64_t i = 0; i < n; ++i)
      read_scalar(r, v.array_type, elem_what, [&](auto x) {
        if constexpr (std::is_same_v<decltype(x), double>) v.floats.push_back(x);
      });
  } else {  // integers and bools; u64 values above INT64_MAX keep their bits
    v.ints.reserve(size_t(n));
    for (uint64_t i = 0; i < n; ++i)
      read_scalar(r, v.array_type, elem_what, [&](auto x) {
        using X = decltype(x);
        if constexpr (std::is_same_v<X, int64_t> || std::is_same_v<X, uint64_t> || std::is_same_v<X, bool>)
          v.ints.push_back(int64_t(x));
      });
  }
  return v;
}

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // outermost-first
  DType dtype;
  uint64_t offset;             // relative to the data section
  uint64_t nbytes;
};

TensorInfo read_tensor_info(ByteReader& r, uint64_t index) {
  TensorInfo ti;
  ti.name = read_string(r, "name of tensor #" + std::to_string(index));
  const std::string what = "tensor '" + ti.name + "'";
  uint32_t n_dims = r.read<uint32_t>(what + " n_dims");
  if (n_dims > kMaxDims) fail(r.name(), ": ", what, " has ", n_dims, " dimensions (at most ", kMaxDims, ")");
  std::vector<int64_t> ne(n_dims);
  for (uint32_t d = 0; d < n_dims; ++d) {
    uint64_t x = r.read<uint64_t>(what + " dimension");
    if (x > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(r.name(), ": ", what, " has dimension ", d, " = ", x, ", which is too large");
    ne[d] = int64_t(x);
  }
  ti.shape.assign(ne.rbegin(), ne.rend());
  if (ti.shape.empty()) ti.shape = {1};  // ggml pads ne with 1s: a 0-dim tensor is one value (as we write it)
  uint32_t type = r.read<uint32_t>(what + " type");
  try {
    ti.dtype = dtype_from_ggml(type);
  } catch (const Error& e) {
    fail(r.name(), ": ", what, ": ", e.what());
  }
  ti.offset = r.read<uint64_t>(what + " offset");
  uint64_t numel;
  if (!io_detail::checked_numel(ti.shape, numel))
    fail(r.name(), ": ", what, " has shape ", Tensor::view(ti.dtype, ti.shape, nullptr, nullptr).shape_str(),
         " whose element count overflows");
  const auto& info = dtype_info(ti.dtype);
  int64_t row = n_dims == 0 ? 1 : ne[0];
  if (row % info.block_size != 0)
    fail(r.name(), ": ", what, " is ", info.name, " with rows of ", row, " values, not a multiple of its block size ",
         info.block_size);
  if (!io_detail::checked_mul(numel / uint64_t(info.block_size), info.block_bytes, ti.nbytes))
    fail(r.name(), ": ", what, " is too large (its byte size overflows)");
  return ti;
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) { return from_file(MappedFile::open(path)); }

GgufFile GgufFile::from_file(std::shared_ptr<const MappedFile> file) {
  GgufFile g;
  g.path_ = file->path();
  ByteReader r(*file);
  const std::string name = r.name();

  if (file->size() < 4 || std::memcmp(file->data(), "GGUF", 4) != 0)
    fail(name, ": not a GGUF file (it does not start with the bytes 'GGUF')");
  r.take(4, "magic");
  uint32_t version = r.read<uint32_t>("version");
  if (version == 1) fail(name, ": GGUF version 1 is not supported (re-convert it with a current llama.cpp)");
  if (version != 2 && version != 3) {
    uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3) fail(name, ": big-endian GGUF files are not supported");
    fail(name, ": unsupported GGUF version ", version, " (expected 2 or 3)");
  }
  g.version_ = version;
  uint64_t n_tensors = r.read<uint64_t>("tensor count");
  uint64_t n_kv = r.read<uint64_t>("metadata count");
  // Each metadata pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info
  // 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
  if (n_kv > r.remaining() / 13)
    fail(name, ": header claims ", n_kv, " metadata pairs, but only ", r.remaining(), " bytes follow");
  if (n_tensors > r.remaining() / 24)
    fail(name, ": header claims ", n_tensors, " tensors, but only ", r.remaining(), " bytes follow");

  g.key_order_.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(r, "metadata key #" + std::to_string(i));
    GgufValue v = read_value(r, key);
    if (!g.kv_.emplace(key, std::move(v)).second) fail(name, ": duplicate metadata key '", key, "'");
    g.key_order_.push_back(std::move(key));
  }

  if (auto it = g.kv_.find("general.alignment"); it != g.kv_.end()) {
    const GgufValue& a = it->second;
    if (a.type != GgufType::U32)
      fail(name, ": general.alignment is ", gguf_type_name(a.type), ", expected u32");
    uint64_t align = std::get<uint64_t>(a.scalar);
    if (align == 0 || (align & (align - 1)) != 0)
      fail(name, ": general.alignment = ", align, " is not a power of two");
    if (align > kGgufMaxAlignment)
      fail(name, ": general.alignment = ", align, " is larger than ", kGgufMaxAlignment, " (1 MiB); no real GGUF file pads that much");
    g.alignment_ = size_t(align);
  }

  if (n_tensors > r.remaining() / 24)
    fail(name, ": header claims ", n_tensors, " tensors, but only ", r.remaining(), " bytes follow the metadata");
  std::vector<TensorInfo> infos;
  infos.reserve(size_t(n_tensors));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    infos.push_back(read_tensor_info(r, i));
    if (!seen.insert(infos.back().name).second) fail(name, ": duplicate tensor name '", infos.back().name, "'");
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t pos = r.pos();
  uint64_t data_start = (pos + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (n_tensors == 0) {
    g.data_offset_ = size_t(std::min<uint64_t>(data_start, file->size()));
    return g;
  }
  if (data_start > file->size())
    fail(name, ": the tensor data section would start at offset ", data_start, ", past the end of the file (",
         file->size(), " bytes)");
  g.data_offset_ = size_t(data_start);
  const uint64_t data_size = file->size() - data_start;

  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& ti : infos) {
    if (ti.offset % g.alignment_ != 0)
      fail(name, ": tensor '", ti.name, "' has offset ", ti.offset, ", not a multiple of the alignment ", g.alignment_);
    if (ti.offset > data_size || ti.nbytes > data_size - ti.offset)
      fail(name, ": tensor '", ti.name, "' (", ti.nbytes, " bytes at data offset ", ti.offset,
           ") runs past the end of the file (the data section holds ", data_size, " bytes)");
    by_offset.push_back(&ti);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    if (by_offset[i]->offset < prev.offset + prev.nbytes)
      fail(name, ": tensors '", prev.name, "' and '", by_offset[i]->name, "' overlap in the data section");
  }

  for (const TensorInfo& ti : infos) {
    // A general.alignment below 4 can leave f32 data at an address that is not a multiple of 4:
    // valid GGUF, read through an aligned copy of that tensor.
    const uint8_t* p = file->data() + data_start + ti.offset;
    g.tensors_.emplace(ti.name, io_detail::tensor_in_file(ti.dtype, ti.shape, p, size_t(ti.nbytes), file));
    g.tensor_order_.push_back(ti.name);
  }
  return g;
}

const GgufValue& GgufFile::value(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) fail(path_.string(), ": no metadata key '", key, "'");
  return it->second;
}

namespace {
[[noreturn]] void wrong_type(const std::filesystem::path& path, const std::string& key, const GgufValue& v,
                             const char* want) {
  std::string have = gguf_type_name(v.type);
  if (v.type == GgufType::ARRAY) have = "an array of " + gguf_type_name(v.array_type);
  fail(path.string(), ": metadata key '", key, "' is ", have, ", not ", want);
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::STRING) wrong_type(path_, key, v, "a string");
  return std::get<std::string>(v.scalar);
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type == GgufType::BOOL) return std::get<bool>(v.scalar) ? 1 : 0;
  if (!is_integer(v.type)) wrong_type(path_, key, v, "an integer");
  if (auto* u = std::get_if<uint64_t>(&v.scalar)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(path_.string(), ": metadata key '", key, "' = ", *u, " is too large");
    return int64_t(*u);
  }
  return std::get<int64_t>(v.scalar);
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = value(key);
  if (is_float(v.type)) return std::get<double>(v.scalar);
  if (is_integer(v.type)) {
    if (auto* u = std::get_if<uint64_t>(&v.scalar)) return double(*u);
    return double(std::get<int64_t>(v.scalar));
  }
  wrong_type(path_, key, v, "a number");
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::BOOL) wrong_type(path_, key, v, "a bool");
  return std::get<bool>(v.scalar);
}

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::ARRAY || v.array_type != GgufType::STRING) wrong_type(path_, key, v, "an array of strings");
  return v.strings;
}

const std::vector<int64_t>& GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::ARRAY || !(is_integer(v.array_type) || v.array_type == GgufType::BOOL))
    wrong_type(path_, key, v, "an array of integers");
  return v.ints;
}

const std::vector<double>& GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::ARRAY || !is_float(v.array_type)) wrong_type(path_, key, v, "an array of floats");
  return v.floats;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }
double GgufFile::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

const Tensor& GgufFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_.string(), ": no tensor named '", name, "'");
  return it->second;
}

}  // namespace tunekit
