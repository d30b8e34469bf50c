// libFuzzer target: HF tokenizer.json parsing (parse_tokenizer_json) and then encoding, decoding and
// streaming a few short texts, invalid UTF-8 included. tunekit::Error is the expected answer to bad
// input; anything else (a crash, a hang, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tunekit/error.h"
#include "tunekit/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    const auto tok = tunekit::parse_tokenizer_json(json, "fuzz/tokenizer.json");
    for (std::string_view text : {std::string_view("Hello, world! 123 \xC3\xA9\xE4\xB8\xAD \t\n  x"),
                                  std::string_view("\xFF\xC3 \xE4\xB8"), std::string_view("")}) {
      const auto ids = tok->encode(text, true);
      tok->decode(ids, true);
      tunekit::StreamDecoder stream(*tok);
      for (int32_t id : ids) stream.push(id);
      stream.flush();
    }
  } catch (const tunekit::Error&) {
  }
  return 0;
}
