// Chat templates: the Jinja templates that turn a conversation into a model's prompt text, rendered
// exactly as Hugging Face transformers renders them (jinja2's ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and loop controls; the tojson, raise_exception and strftime_now that
// transformers adds). The engine is tunekit's own Jinja subset; docs/chat-templates.md lists what
// it supports and where it differs from Python.
#pragma once
#include <cstddef>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tunekit {

namespace jinja {
struct Template;
}

struct ChatMessage {
  std::string role;
  std::string content;
};

// Bounds that turn runaway templates (endless loops, runaway recursion, exploding output) into a
// tunekit::Error instead of a hang or memory exhaustion.
struct ChatTemplateLimits {
  size_t max_output_bytes = 64u << 20;  // also bounds every intermediate string
  size_t max_steps = 10'000'000;        // statements, loop iterations and calls
  int max_call_depth = 200;             // nested macro calls
};

class ChatTemplate {
 public:
  // Throws Error("origin:line:col: message") for a syntax error.
  static ChatTemplate parse(const std::string& source, const std::string& origin = "template");

  // Renders with the context object's keys as template variables (messages, add_generation_prompt,
  // bos_token, eos_token, tools, documents, ...). Key order is kept (it shows in tojson and in
  // loops over dicts). Throws Error("origin:line:col: message") where jinja2 would raise, including
  // the template's own raise_exception(message). Safe to call from several threads at once.
  std::string render(const nlohmann::ordered_json& context) const;

  // What transformers' apply_chat_template(messages, add_generation_prompt=...) renders: messages,
  // tools=None, documents=None, add_generation_prompt, bos_token and eos_token.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                    const std::string& bos_token, const std::string& eos_token) const;

  // strftime_now() formats this time instead of the local clock (for reproducible renderings).
  void set_now(const std::tm& time) { now_ = time; }
  void set_limits(const ChatTemplateLimits& limits) { limits_ = limits; }

  const std::string& source() const { return source_; }
  const std::string& origin() const;

 private:
  ChatTemplate() = default;

  std::shared_ptr<const jinja::Template> template_;
  std::string source_;
  std::optional<std::tm> now_;
  ChatTemplateLimits limits_;
};

// Finds a model's chat template named `name` ("default" is the model's main template) in:
//  - a folder: chat_template.jinja, else additional_chat_templates/<name>.jinja, else
//    chat_template.json's or tokenizer_config.json's "chat_template";
//  - a tokenizer_config.json (or any .json with "chat_template"): a string, or a list of
//    {"name", "template"} entries from which `name` is taken;
//  - a GGUF file: tokenizer.chat_template (tokenizer.chat_template.<name> for other names);
//  - any other file: its text is the template.
// std::nullopt where the model has none; Error for unreadable or malformed files, and for a list
// of named templates without `name`.
std::optional<std::string> find_chat_template(const std::filesystem::path& path, const std::string& name = "default");

// The BOS and EOS token texts a template should see, from the same places: tokenizer_config.json
// ("bos_token"/"eos_token", plain or {"content": ...}) or a GGUF's tokenizer.ggml.{bos,eos}_token_id.
// Unset where the model does not say.
struct ChatSpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};
ChatSpecialTokens find_chat_special_tokens(const std::filesystem::path& path);

// The text of a chat message's "content" as OpenAI and Hugging Face write it: a string, or a list of
// {"type": "text", "text": ...} parts joined in order (chat_content.cpp). Anything else (null, a
// number, an image or audio part, a part without a string "text") throws Error, starting with
// `where` (e.g. "messages[2].content") and naming the part at fault.
std::string chat_content_text(const nlohmann::json& content, const std::string& where);
std::string chat_content_text(const nlohmann::ordered_json& content, const std::string& where);

}  // namespace tunekit
