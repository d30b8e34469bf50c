// Safetensors (Hugging Face's weight file): read memory-mapped, single file or sharded
// (model.safetensors.index.json), with every header field, offset and size validated before a
// pointer is formed; write atomically. Dtypes F32, F16, BF16 (and I32 for integer inputs).
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tunekit/io/mapped_file.h"
#include "tunekit/tensor.h"

namespace tunekit {

struct TensorFile {
  std::map<std::string, Tensor> tensors;             // views into the mapping(s)
  std::map<std::string, std::string> metadata;       // "__metadata__" of the (first) file
  const Tensor& get(const std::string& name) const;  // throws Error naming the tensor and files
  bool has(const std::string& name) const { return tensors.count(name) != 0; }

  std::vector<std::filesystem::path> files;          // the .safetensors file(s) read, in order
  // Tensors whose (valid) dtype tunekit does not load, e.g. an I64 position_ids buffer: name ->
  // safetensors dtype. They are validated like the others but not in tensors; get() explains.
  std::map<std::string, std::string> skipped;
};

// path: a .safetensors file, a model.safetensors.index.json, or a folder holding either.
// Throws Error("<file>: <problem>") on malformed input.
TensorFile read_safetensors(const std::filesystem::path& path);
// One safetensors file already in memory or mapped (fuzzers and tests use MappedFile::from_bytes).
TensorFile parse_safetensors(std::shared_ptr<const MappedFile> file);

// Writes tensors (F32/F16/BF16/I32) in the given order; temp file + fsync + rename.
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The exact bytes write_safetensors() writes, in memory (tests and fuzzers); errors name `name`.
std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {},
                                  const std::string& name = "safetensors");

}  // namespace tunekit
