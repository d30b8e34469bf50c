// libFuzzer target: chat-template parsing and rendering (ChatTemplate::parse + render) of arbitrary
// bytes over a fixed conversation with tools. tunekit::Error is the expected answer to bad input
// (syntax errors, runtime errors, the limits below); anything else (a crash, a hang, another
// exception, a leak) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "  Hi «there» 🇫🇷  "},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "call12345", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 18}"},
      {"role": "user", "content": "Thanks"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "documents": null,
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>"
  })");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    tunekit::ChatTemplate t = tunekit::ChatTemplate::parse(source, "fuzz.jinja");
    std::tm now{};
    now.tm_year = 125;
    now.tm_mon = 2;
    now.tm_mday = 14;
    t.set_now(now);
    t.set_limits({16u << 10, 10000, 32});  // 16 KiB of output, 10k steps, 32 nested macro calls: fast runs
    t.render(context());
  } catch (const tunekit::Error&) {
  }
  return 0;
}
