// Safetensors writer: the header lists tensors in the order given (with "__metadata__" first when
// there is any), as compact JSON padded with spaces so the data section starts at a multiple of 8
// (as the Python library does); tensor bytes follow back to back. Written atomically.
#include <nlohmann/json.hpp>
#include <cstring>
#include <set>

#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/safetensors.h"

namespace tunekit {

namespace {
const char* st_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    default: return nullptr;
  }
}
}  // namespace

// The padded header text; where names the file in errors.
static std::string header_text(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata, const std::string& where) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(!name.empty() && name != "__metadata__", where, ": invalid tensor name '", name, "'");
    check(seen.insert(name).second, where, ": duplicate tensor '", name, "'");
    const char* dt = st_dtype(t.dtype);
    check(dt != nullptr, where, ": tensor '", name, "' is ", dtype_name(t.dtype),
          "; safetensors files hold F32, F16, BF16 or I32 (dequantize it first)");
    for (int64_t d : t.shape) check(d >= 0, where, ": tensor '", name, "' has shape ", t.shape_str());
    check(t.nbytes() == 0 || t.data != nullptr, where, ": tensor '", name, "' has no data");
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = dt;
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    header[name] = std::move(entry);
    offset += t.nbytes();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": cannot encode the header (", e.what(), "); names and metadata must be UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // 8 + header length is a multiple of 8
  return text;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string text = header_text(tensors, metadata, path.string());
  write_file_atomic(path, [&](AtomicFile& f) {
    uint64_t n = text.size();
    f.write(&n, sizeof(n));
    f.write(text);
    for (const auto& nt : tensors)
      if (nt.second.nbytes()) f.write(nt.second.data, nt.second.nbytes());
  });
}

std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata, const std::string& name) {
  const std::string text = header_text(tensors, metadata, name);
  std::string out(8, '\0');
  uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  out += text;
  for (const auto& nt : tensors)
    if (nt.second.nbytes()) out.append(static_cast<const char*>(nt.second.data), nt.second.nbytes());
  return out;
}

}  // namespace tunekit
