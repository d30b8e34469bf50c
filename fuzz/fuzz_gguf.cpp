// libFuzzer target: GGUF parsing (GgufFile::from_file over an exact-size heap copy, so ASan sees
// any read past the end). tunekit::Error is the expected answer to bad input; anything else (a
// crash, a sanitizer report, another exception, a hang) is a bug. A file that parses is written
// back with GgufWriter and must parse again to the same metadata and tensor bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

using namespace tunekit;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type || a.ints != b.ints || a.strings != b.strings || !same_bits(a.floats, b.floats)) return false;
  if (a.type == GgufType::ARRAY && a.array_type != b.array_type) return false;
  if (a.type == GgufType::F32 || a.type == GgufType::F64) {
    double x = std::get<double>(a.scalar), y = std::get<double>(b.scalar);
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  return a.scalar == b.scalar;
}

uint64_t touch(const Tensor& t) {  // reads every byte, so ASan checks the whole extent
  uint64_t sum = 0;
  const auto* p = static_cast<const uint8_t*>(t.data);
  for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  GgufFile g;
  try {
    g = GgufFile::from_file(MappedFile::from_bytes("fuzz.gguf", data, size));
  } catch (const Error&) {
    return 0;
  }
  // Every getter either answers or throws Error.
  uint64_t sink = 0;
  for (const auto& key : g.keys_in_order()) {
    try { sink += g.get_string(key).size(); } catch (const Error&) {}
    try { sink += uint64_t(g.get_int(key)); } catch (const Error&) {}
    try { sink += uint64_t(g.get_float(key) != 0); } catch (const Error&) {}
    try { sink += g.get_bool(key); } catch (const Error&) {}
    try { sink += g.get_string_array(key).size(); } catch (const Error&) {}
    try { sink += g.get_int_array(key).size(); } catch (const Error&) {}
    try { sink += g.get_float_array(key).size(); } catch (const Error&) {}
  }
  for (const auto& name : g.tensor_names()) sink += touch(g.tensor(name));

  // Round trip through the writer (which may refuse what llama.cpp would refuse, e.g. long names).
  GgufWriter w;
  std::string bytes;
  try {
    for (const auto& key : g.keys_in_order()) w.set(key, g.value(key));
    for (const auto& name : g.tensor_names()) w.add_tensor(name, g.tensor(name));
    bytes = w.serialize();
  } catch (const Error&) {
    return 0;
  }
  GgufFile back = GgufFile::from_file(MappedFile::from_bytes("roundtrip.gguf", bytes.data(), bytes.size()));
  if (back.keys_in_order() != g.keys_in_order() || back.tensor_names() != g.tensor_names()) std::abort();
  for (const auto& key : g.keys_in_order())
    if (!same_value(g.value(key), back.value(key))) std::abort();
  for (const auto& name : g.tensor_names()) {
    const Tensor &a = g.tensor(name), &b = back.tensor(name);
    if (a.dtype != b.dtype || a.shape != b.shape || std::memcmp(a.data, b.data, a.nbytes()) != 0) std::abort();
  }
  return sink == 0x123456789 ? 1 : 0;
}
