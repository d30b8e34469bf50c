// chat_content_text: a message's content, a string or a list of text parts, as one string.
#include "tunekit/error.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit {

namespace {

template <class Json>
std::string content_text(const Json& content, const std::string& where) {
  if (content.is_string()) return content.template get<std::string>();
  check(content.is_array(), where, " must be a string or a list of text parts, got ", content.type_name());
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const Json& part = content[j];
    const std::string at = where + "[" + std::to_string(j) + "]";
    check(part.is_object() && part.contains("type") && part["type"].is_string(), at,
          " must be an object with a \"type\"");
    check(part["type"] == "text", at, " is a \"", part["type"].template get<std::string>(),
          "\" part; only text parts are supported");
    check(part.contains("text") && part["text"].is_string(), at, ".text must be a string");
    text += part["text"].template get<std::string>();
  }
  return text;
}

}  // namespace

std::string chat_content_text(const nlohmann::json& content, const std::string& where) {
  return content_text(content, where);
}

std::string chat_content_text(const nlohmann::ordered_json& content, const std::string& where) {
  return content_text(content, where);
}

}  // namespace tunekit
