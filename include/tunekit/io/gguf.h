// GGUF v3 (llama.cpp's model file): read (memory-mapped, every size and offset validated before a
// pointer is formed) and write (atomically). Tensor shapes here are outermost-first like every
// Tensor in tunekit, i.e. the reverse of GGUF's ne[] order: a GGUF tensor with ne = {n_in, n_out}
// is a Tensor of shape [n_out, n_in].
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tunekit/io/mapped_file.h"
#include "tunekit/tensor.h"

namespace tunekit {

// The largest general.alignment read or written: a power of two up to 1 MiB (llama.cpp writes 32).
// A larger one is refused, so that a 68-byte file cannot ask for a gigabyte of padding.
constexpr uint64_t kGgufMaxAlignment = uint64_t(1) << 20;

// GGUF metadata value types (gguf_type in the specification).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12
};

// "u32", "string", "array", ... ("type N" for a value outside the enum).
std::string gguf_type_name(GgufType t);

// One metadata value. Scalars keep their GGUF type so a read-then-write round trip is exact.
// Arrays hold one element type: integers in ints, floats in floats, strings in strings.
struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType array_type = GgufType::U32;  // element type when type == ARRAY
  std::variant<int64_t, uint64_t, double, bool, std::string> scalar;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
};

class GgufFile {
 public:
  // Opens and validates path; throws Error("<path>: <problem>") on any malformed input.
  static GgufFile open(const std::filesystem::path& path);
  // The same over bytes already in memory or mapped (fuzzers and tests use MappedFile::from_bytes).
  static GgufFile from_file(std::shared_ptr<const MappedFile> file);

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // where the (aligned) tensor data section starts

  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  const GgufValue& value(const std::string& key) const;  // throws Error naming the file and key
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  std::vector<std::string> keys_in_order() const { return key_order_; }

  // Typed getters: throw Error when the key is missing or has an incompatible type.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;   // any integer type (or bool)
  double get_float(const std::string& key) const;  // F32/F64 (and integers, converted)
  bool get_bool(const std::string& key) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;
  const std::vector<double>& get_float_array(const std::string& key) const;
  // The same, with a default where the key is missing.
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;

  // Tensors in file order, as views into the mapping (kept alive by each Tensor).
  const std::vector<std::string>& tensor_names() const { return tensor_order_; }
  bool has_tensor(const std::string& name) const { return tensors_.count(name) != 0; }
  const Tensor& tensor(const std::string& name) const;  // throws Error naming the file and tensor

 private:
  std::filesystem::path path_;
  uint32_t version_ = 3;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<std::string> key_order_;
  std::map<std::string, Tensor> tensors_;
  std::vector<std::string> tensor_order_;
};

// Builds a GGUF v3 file in memory order and writes it atomically (temp + fsync + rename), so a
// failed or interrupted write leaves no partial file at path.
class GgufWriter {
 public:
  void set_string(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set(const std::string& key, const GgufValue& v);  // copy a value read from another file
  const GgufValue* find(const std::string& key) const;   // nullptr where the key is not set

  // The tensor's dtype must have a GGUF type; its bytes are copied at write().
  void add_tensor(const std::string& name, const Tensor& t);
  void write(const std::filesystem::path& path) const;
  // The exact bytes write() puts in the file, in memory (tests and fuzzers).
  std::string serialize() const;

 private:
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<std::pair<std::string, Tensor>> tensors_;
};

}  // namespace tunekit
