// libFuzzer target: HF config.json parsing (ModelConfig::from_hf_json). tunekit::Error is the
// expected answer to bad input; anything else (a crash, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tunekit/error.h"
#include "tunekit/models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    tunekit::ModelConfig c = tunekit::ModelConfig::from_hf_json(j, "fuzz/config.json");
    tunekit::ModelConfig::from_hf_json(c.to_hf_json(), "fuzz/roundtrip.json");
  } catch (const tunekit::Error&) {
  }
  return 0;
}
