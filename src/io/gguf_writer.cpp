// GGUF v3 writer, laid out exactly as llama.cpp's gguf.cpp reads and writes it:
//   "GGUF" u32 version=3, u64 n_tensors, u64 n_kv
//   n_kv x { string key, u32 type, value }            (string = u64 length + bytes, no NUL)
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   zero padding to general.alignment (32 unless set), then the data section: each tensor's bytes
//   at its offset (relative to the data section), each padded with zeros to the alignment.
#include <limits>

#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

constexpr size_t kMaxName = 63;  // llama.cpp: GGML_MAX_NAME (64) including the NUL

bool is_int_type(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::BOOL:
      return true;
    default:
      return false;
  }
}

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

// Writes an integer of GGUF type t, checking its range (x is the value's bits as read: u64 values
// above INT64_MAX arrive as negative int64 from arrays, so unsigned 64-bit takes any bits).
void put_int(std::string& out, GgufType t, int64_t x, bool from_unsigned, const std::string& key) {
  auto in = [&](int64_t lo, int64_t hi) {
    if (from_unsigned && x < 0) return false;
    return x >= lo && x <= hi;
  };
  auto range_fail = [&]() { fail("GGUF writer: value ", x, " of '", key, "' does not fit ", gguf_type_name(t)); };
  switch (t) {
    case GgufType::U8: if (!in(0, 255)) range_fail(); put<uint8_t>(out, uint8_t(x)); break;
    case GgufType::I8: if (!in(-128, 127)) range_fail(); put<int8_t>(out, int8_t(x)); break;
    case GgufType::U16: if (!in(0, 65535)) range_fail(); put<uint16_t>(out, uint16_t(x)); break;
    case GgufType::I16: if (!in(-32768, 32767)) range_fail(); put<int16_t>(out, int16_t(x)); break;
    case GgufType::U32: if (!in(0, 4294967295LL)) range_fail(); put<uint32_t>(out, uint32_t(x)); break;
    case GgufType::I32: if (!in(INT32_MIN, INT32_MAX)) range_fail(); put<int32_t>(out, int32_t(x)); break;
    case GgufType::U64: if (!from_unsigned && x < 0) range_fail(); put<uint64_t>(out, uint64_t(x)); break;
    case GgufType::I64: if (from_unsigned && x < 0) range_fail(); put<int64_t>(out, x); break;
    case GgufType::BOOL: if (!in(0, 1)) range_fail(); put<uint8_t>(out, uint8_t(x)); break;
    default: fail("GGUF writer: '", key, "' is not an integer type");
  }
}

void put_float(std::string& out, GgufType t, double x) {
  if (t == GgufType::F32) put<float>(out, float(x));
  else put<double>(out, x);
}

void put_scalar(std::string& out, const std::string& key, const GgufValue& v) {
  const auto& s = v.scalar;
  if (v.type == GgufType::STRING) {
    const auto* str = std::get_if<std::string>(&s);
    check(str != nullptr, "GGUF writer: '", key, "' is typed string but holds no string");
    put_string(out, *str);
  } else if (v.type == GgufType::F32 || v.type == GgufType::F64) {
    double x;
    if (auto* d = std::get_if<double>(&s)) x = *d;
    else if (auto* i = std::get_if<int64_t>(&s)) x = double(*i);
    else if (auto* u = std::get_if<uint64_t>(&s)) x = double(*u);
    else fail("GGUF writer: '", key, "' is typed ", gguf_type_name(v.type), " but holds no number");
    put_float(out, v.type, x);
  } else if (is_int_type(v.type)) {
    if (auto* i = std::get_if<int64_t>(&s)) put_int(out, v.type, *i, false, key);
    else if (auto* u = std::get_if<uint64_t>(&s)) {
      if (*u > uint64_t(std::numeric_limits<int64_t>::max())) {
        check(v.type == GgufType::U64, "GGUF writer: value ", *u, " of '", key, "' does not fit ", gguf_type_name(v.type));
        put<uint64_t>(out, *u);
      } else {
        put_int(out, v.type, int64_t(*u), false, key);
      }
    } else if (auto* b = std::get_if<bool>(&s)) put_int(out, v.type, *b ? 1 : 0, false, key);
    else fail("GGUF writer: '", key, "' is typed ", gguf_type_name(v.type), " but holds no integer");
  } else {
    fail("GGUF writer: '", key, "' has invalid type ", gguf_type_name(v.type));
  }
}

void put_value(std::string& out, const std::string& key, const GgufValue& v) {
  put<uint32_t>(out, uint32_t(v.type));
  if (v.type != GgufType::ARRAY) {
    put_scalar(out, key, v);
    return;
  }
  GgufType et = v.array_type;
  put<uint32_t>(out, uint32_t(et));
  if (et == GgufType::STRING) {
    put<uint64_t>(out, v.strings.size());
    for (const auto& s : v.strings) put_string(out, s);
  } else if (et == GgufType::F32 || et == GgufType::F64) {
    put<uint64_t>(out, v.floats.size());
    for (double x : v.floats) put_float(out, et, x);
  } else if (is_int_type(et)) {
    put<uint64_t>(out, v.ints.size());
    // Unsigned 64-bit elements are stored by bits (see GgufValue), so any int64 is fine there.
    bool u64 = et == GgufType::U64;
    for (int64_t x : v.ints) {
      if (u64) put<uint64_t>(out, uint64_t(x));
      else put_int(out, et, x, false, key);
    }
  } else {
    fail("GGUF writer: array '", key, "' has invalid element type ", gguf_type_name(et));
  }
}

GgufValue scalar_value(GgufType type, std::variant<int64_t, uint64_t, double, bool, std::string> v) {
  GgufValue x;
  x.type = type;
  x.scalar = std::move(v);
  return x;
}

}  // namespace

void GgufWriter::set(const std::string& key, const GgufValue& v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = v;
      return;
    }
  }
  kv_.emplace_back(key, v);
}

const GgufValue* GgufWriter::find(const std::string& key) const {
  for (const auto& kv : kv_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

void GgufWriter::set_string(const std::string& key, const std::string& v) { set(key, scalar_value(GgufType::STRING, v)); }
void GgufWriter::set_u32(const std::string& key, uint32_t v) { set(key, scalar_value(GgufType::U32, uint64_t(v))); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { set(key, scalar_value(GgufType::I32, int64_t(v))); }
void GgufWriter::set_u64(const std::string& key, uint64_t v) { set(key, scalar_value(GgufType::U64, v)); }
void GgufWriter::set_f32(const std::string& key, float v) { set(key, scalar_value(GgufType::F32, double(v))); }
void GgufWriter::set_bool(const std::string& key, bool v) { set(key, scalar_value(GgufType::BOOL, v)); }
void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::STRING;
  x.strings = v;
  set(key, x);
}
void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::F32;
  x.floats.assign(v.begin(), v.end());
  set(key, x);
}
void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = GgufType::I32;
  x.ints.assign(v.begin(), v.end());
  set(key, x);
}

void GgufWriter::add_tensor(const std::string& name, const Tensor& t) {
  check(!name.empty(), "GGUF writer: a tensor needs a name");
  check(name.size() <= kMaxName, "GGUF writer: tensor name '", name, "' is ", name.size(),
        " bytes long (llama.cpp allows at most ", kMaxName, ")");
  for (const auto& nt : tensors_) check(nt.first != name, "GGUF writer: duplicate tensor '", name, "'");
  try {
    dtype_to_ggml(t.dtype);
  } catch (const Error& e) {
    fail("GGUF writer: tensor '", name, "': ", e.what());
  }
  check(t.rank() <= 4, "GGUF writer: tensor '", name, "' has shape ", t.shape_str(), " (GGUF allows at most 4 dimensions)");
  for (int64_t d : t.shape) check(d >= 0, "GGUF writer: tensor '", name, "' has shape ", t.shape_str());
  const auto& info = dtype_info(t.dtype);
  int64_t row = t.rank() ? t.dim(-1) : 1;
  check(row % info.block_size == 0, "GGUF writer: tensor '", name, "' is ", info.name, " with rows of ", row,
        " values, not a multiple of its block size ", info.block_size);
  check(t.nbytes() == 0 || t.data != nullptr, "GGUF writer: tensor '", name, "' has no data");
  tensors_.emplace_back(name, t);
}

namespace {
struct Layout {
  std::string head;  // header, metadata and tensor infos (unpadded)
  size_t alignment;
};
}  // namespace

// Lays out everything before the data section; the data follows, each tensor padded.
static Layout layout(const std::vector<std::pair<std::string, GgufValue>>& kv,
                     const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& where) {
  Layout l;
  l.alignment = 32;
  for (const auto& e : kv) {
    if (e.first != "general.alignment") continue;
    const auto* a = std::get_if<uint64_t>(&e.second.scalar);
    if (e.second.type != GgufType::U32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0 || *a > kGgufMaxAlignment)
      fail(where, ": general.alignment must be a u32 power of two of at most ", kGgufMaxAlignment, " (1 MiB)");
    l.alignment = size_t(*a);
  }
  std::string& head = l.head;
  head += "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors.size());
  put<uint64_t>(head, kv.size());
  try {
    for (const auto& [key, v] : kv) {
      put_string(head, key);
      put_value(head, key, v);
    }
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    put_string(head, name);
    uint32_t n_dims = uint32_t(std::max(1, t.rank()));
    put<uint32_t>(head, n_dims);
    if (t.rank() == 0) put<uint64_t>(head, 1);
    for (int i = t.rank() - 1; i >= 0; --i) put<uint64_t>(head, uint64_t(t.shape[size_t(i)]));  // ne: innermost first
    put<uint32_t>(head, dtype_to_ggml(t.dtype));
    put<uint64_t>(head, offset);
    offset += (t.nbytes() + l.alignment - 1) / l.alignment * l.alignment;
  }
  return l;
}

void GgufWriter::write(const std::filesystem::path& path) const {
  Layout l = layout(kv_, tensors_, path.string());
  write_file_atomic(path, [&](AtomicFile& f) {
    f.write(l.head);
    f.pad_to(l.alignment);
    for (const auto& nt : tensors_) {
      const Tensor& t = nt.second;
      if (t.nbytes()) f.write(t.data, t.nbytes());
      f.pad_to(l.alignment);
    }
  });
}

std::string GgufWriter::serialize() const {
  Layout l = layout(kv_, tensors_, "GGUF writer");
  std::string out = std::move(l.head);
  auto pad = [&]() { out.append((l.alignment - out.size() % l.alignment) % l.alignment, '\0'); };
  pad();
  for (const auto& nt : tensors_) {
    const Tensor& t = nt.second;
    if (t.nbytes()) out.append(static_cast<const char*>(t.data), t.nbytes());
    pad();
  }
  return out;
}

}  // namespace tunekit
