// JSONL records: which format a record is, whether its keys and types are right for it, and the
// SampleEncoder call that turns it into a Sample.
#include <algorithm>
#include <array>

#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"
#include "train/data_records.h"

namespace tunekit {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<const char*, 4> kRoles = {"system", "user", "assistant", "tool"};

// The classic Alpaca prompts (as Axolotl's "alpaca" type writes them).
constexpr const char* kAlpacaWithInput =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n";
constexpr const char* kAlpacaNoInput =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n";

const char* keys_of(DataFormat format) {
  switch (format) {
    case DataFormat::Text: return "text records need \"text\"";
    case DataFormat::PromptCompletion: return "prompt/completion records need \"prompt\" and \"completion\"";
    case DataFormat::Messages: return "chat records need \"messages\"";
    case DataFormat::Alpaca: return "alpaca records need \"instruction\" and \"output\"";
    default: return "";
  }
}

const Json& field(const Json& record, const char* key, DataFormat format) {
  auto it = record.find(key);
  check(it != record.end(), "missing key \"", key, "\" (", keys_of(format), ")");
  return *it;
}

const std::string& string_field(const Json& record, const char* key, DataFormat format) {
  const Json& value = field(record, key, format);
  check(value.is_string(), "\"", key, "\" must be a string, got ", value.type_name());
  return value.get_ref<const std::string&>();
}

// A checked copy of a list of messages: {"role", "content", ...} (other keys such as tool_calls kept
// for the template; content as text), or ShareGPT's {"from", "value"} with human -> user,
// gpt -> assistant.
Json chat_messages(const Json& list, const std::string& name) {
  check(list.is_array(), "\"", name, "\" must be a list of messages, got ", list.type_name());
  check(!list.empty(), "\"", name, "\" is an empty list");
  const bool share_gpt = name == "conversations";
  const char* role_key = share_gpt ? "from" : "role";
  const char* content_key = share_gpt ? "value" : "content";
  Json out = Json::array();
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& m = list[i];
    std::string where = name + "[" + std::to_string(i) + "]";
    check(m.is_object(), where, " must be an object with \"", role_key, "\" and \"", content_key, "\", got ", m.type_name());
    auto role = m.find(role_key);
    auto content = m.find(content_key);
    check(role != m.end(), where, " has no \"", role_key, "\"");
    check(role->is_string(), where, ".", role_key, " must be a string, got ", role->type_name());
    check(content != m.end(), where, " has no \"", content_key, "\"");
    std::string r = role->get<std::string>();
    if (share_gpt) r = r == "human" ? "user" : r == "gpt" ? "assistant" : r;
    check(std::find(kRoles.begin(), kRoles.end(), r) != kRoles.end(), where, ".", role_key, " \"",
          role->get<std::string>(), "\" is not a known role (system, user, assistant, tool",
          share_gpt ? "; ShareGPT's human, gpt" : "", ")");
    Json message = share_gpt ? Json::object() : m;
    message["role"] = r;
    message["content"] = chat_content_text(*content, where + "." + content_key);
    out.push_back(std::move(message));
  }
  return out;
}

Sample prompt_completion(const Json& record, const SampleEncoder& encoder) {
  const Json& prompt = field(record, "prompt", DataFormat::PromptCompletion);
  const Json& completion = field(record, "completion", DataFormat::PromptCompletion);
  if (prompt.is_string() && completion.is_string())
    return encoder.completion(prompt.get<std::string>(), completion.get<std::string>());
  check(prompt.is_array() && completion.is_array(), "\"prompt\" and \"completion\" must both be strings or both "
        "be lists of messages, got ", prompt.type_name(), " and ", completion.type_name());
  Json messages = chat_messages(prompt, "prompt");
  for (Json& m : chat_messages(completion, "completion")) messages.push_back(std::move(m));
  return encoder.chat(messages, record.value("tools", Json()), prompt.size());
}

Sample alpaca(const Json& record, const SampleEncoder& encoder) {
  const std::string& instruction = string_field(record, "instruction", DataFormat::Alpaca);
  const std::string& output = string_field(record, "output", DataFormat::Alpaca);
  std::string input;
  if (auto it = record.find("input"); it != record.end() && !it->is_null()) {
    check(it->is_string(), "\"input\" must be a string, got ", it->type_name());
    input = it->get<std::string>();
  }
  if (encoder.has_chat_template()) {
    Json messages = Json::array();
    messages.push_back({{"role", "user"}, {"content", input.empty() ? instruction : instruction + "\n\n" + input}});
    messages.push_back({{"role", "assistant"}, {"content", output}});
    return encoder.chat(messages, nullptr, 0);
  }
  std::string prompt = input.empty()
      ? kAlpacaNoInput + instruction + "\n\n### Response:\n"
      : kAlpacaWithInput + instruction + "\n\n### Input:\n" + input + "\n\n### Response:\n";
  return encoder.completion(prompt, output);
}

}  // namespace

DataFormat parse_data_format(const std::string& name) {
  for (DataFormat f : {DataFormat::Auto, DataFormat::Text, DataFormat::PromptCompletion, DataFormat::Messages,
                       DataFormat::Alpaca, DataFormat::Raw})
    if (name == data_format_name(f)) return f;
  fail("unknown dataset format \"", name, "\" (expected auto, text, prompt_completion, messages, alpaca or raw)");
}

const char* data_format_name(DataFormat format) {
  switch (format) {
    case DataFormat::Auto: return "auto";
    case DataFormat::Text: return "text";
    case DataFormat::PromptCompletion: return "prompt_completion";
    case DataFormat::Messages: return "messages";
    case DataFormat::Alpaca: return "alpaca";
    case DataFormat::Raw: return "raw";
  }
  return "?";
}

DataFormat detect_format(const Json& record) {
  check(record.is_object(), "expected a JSON object, got ", record.type_name());
  if (record.contains("messages") || record.contains("conversations")) return DataFormat::Messages;
  if (record.contains("prompt") && record.contains("completion")) return DataFormat::PromptCompletion;
  if (record.contains("instruction") && record.contains("output")) return DataFormat::Alpaca;
  if (record.contains("text")) return DataFormat::Text;
  std::string keys;
  for (const auto& [key, value] : record.items()) keys += (keys.empty() ? "\"" : ", \"") + key + "\"";
  fail("cannot tell the dataset format from the keys {", keys, "}: expected \"text\", \"prompt\"+\"completion\", "
       "\"messages\" (or \"conversations\") or \"instruction\"+\"output\" (or set the format)");
}

Sample record_to_sample(const Json& record, DataFormat format, const SampleEncoder& encoder) {
  check(record.is_object(), "expected a JSON object, got ", record.type_name());
  if (format == DataFormat::Auto) format = detect_format(record);
  switch (format) {
    case DataFormat::Text: return encoder.text(string_field(record, "text", format));
    case DataFormat::PromptCompletion: return prompt_completion(record, encoder);
    case DataFormat::Alpaca: return alpaca(record, encoder);
    case DataFormat::Messages: {
      const char* key = record.contains("messages") || !record.contains("conversations") ? "messages" : "conversations";
      return encoder.chat(chat_messages(field(record, key, format), key), record.value("tools", Json()), 0);
    }
    default: fail("record_to_sample: format ", data_format_name(format), " is not a record format");
  }
}

}  // namespace tunekit
