// libFuzzer target: safetensors parsing (parse_safetensors over an exact-size heap copy, so ASan
// sees any read past the end). tunekit::Error is the expected answer to bad input; anything else
// (a crash, a sanitizer report, another exception, a hang) is a bug. A file that parses is
// serialized again and must parse back to the same tensors and metadata.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tunekit/error.h"
#include "tunekit/io/safetensors.h"

using namespace tunekit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TensorFile f;
  try {
    f = parse_safetensors(MappedFile::from_bytes("fuzz.safetensors", data, size));
  } catch (const Error&) {
    return 0;
  }
  uint64_t sink = 0;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : f.tensors) {
    const auto* p = static_cast<const uint8_t*>(f.get(name).data);
    for (size_t i = 0; i < t.nbytes(); ++i) sink += p[i];
    tensors.emplace_back(name, t);
  }
  for (const auto& [name, dtype] : f.skipped) {
    try {
      f.get(name);
      std::abort();  // a skipped tensor must not be handed out
    } catch (const Error&) {
    }
  }
  std::string bytes = serialize_safetensors(tensors, f.metadata, "roundtrip.safetensors");
  TensorFile back = parse_safetensors(MappedFile::from_bytes("roundtrip.safetensors", bytes.data(), bytes.size()));
  if (back.metadata != f.metadata || back.tensors.size() != f.tensors.size() || !back.skipped.empty()) std::abort();
  for (const auto& [name, t] : f.tensors) {
    const Tensor& b = back.get(name);
    if (b.dtype != t.dtype || b.shape != t.shape || std::memcmp(b.data, t.data, t.nbytes()) != 0) std::abort();
  }
  return sink == 0x123456789 ? 1 : 0;
}
