// tunekit template --template PATH --messages FILE.json [--no-generation-prompt] [--bos STR]
//                  [--eos STR] [--name NAME]
// Prints a conversation rendered with a model's chat template, exactly as transformers'
// apply_chat_template would produce it. PATH is a model folder, a tokenizer_config.json, a .gguf
// or a .jinja file (see find_chat_template). FILE.json holds a list of messages, or an object whose
// keys all become template variables ({"messages": [...], "tools": [...], ...}). BOS/EOS default to
// the model's own tokens where PATH names them.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/tokenizer/chat_template.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

using json = nlohmann::ordered_json;

struct TemplateArgs {
  std::string template_path, messages_path, name = "default";
  std::optional<std::string> bos, eos;  // unset: the model's own
  bool no_generation_prompt = false;
};

json read_messages(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::parse_error& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  check(j.is_array() || (j.is_object() && j.contains("messages")), path,
        ": expected a list of messages or an object with \"messages\"");
  if (j.is_array()) return json{{"messages", j}, {"tools", nullptr}, {"documents", nullptr}};
  if (!j.contains("tools")) j["tools"] = nullptr;  // what apply_chat_template passes when there are none
  if (!j.contains("documents")) j["documents"] = nullptr;
  return j;
}

void run(const TemplateArgs& a) {
  std::optional<std::string> source = find_chat_template(a.template_path, a.name);
  check(source.has_value(), a.template_path, ": no chat template named '", a.name, "' found");
  ChatTemplate tmpl = ChatTemplate::parse(*source, a.template_path);
  json context = read_messages(a.messages_path);
  ChatSpecialTokens model_tokens = find_chat_special_tokens(a.template_path);
  if (auto bos = a.bos ? a.bos : model_tokens.bos_token) context["bos_token"] = *bos;
  if (auto eos = a.eos ? a.eos : model_tokens.eos_token) context["eos_token"] = *eos;
  context["add_generation_prompt"] = !a.no_generation_prompt;
  std::string text = tmpl.render(context);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void add_template(CLI::App& app) {
  auto a = std::make_shared<TemplateArgs>();
  auto* cmd = app.add_subcommand("template", "Render a conversation with a model's chat template (as transformers does)");
  cmd->add_option("--template", a->template_path, "model folder, tokenizer_config.json, .gguf or .jinja file")->required();
  cmd->add_option("--messages", a->messages_path,
                  "JSON file: a list of {role, content} messages, or an object of template variables")
      ->required();
  cmd->add_flag("--no-generation-prompt", a->no_generation_prompt, "render without the assistant turn opener");
  auto bos = std::make_shared<std::string>(), eos = std::make_shared<std::string>();
  auto* bos_option = cmd->add_option("--bos", *bos, "BOS token text (default: the model's)");
  auto* eos_option = cmd->add_option("--eos", *eos, "EOS token text (default: the model's)");
  cmd->add_option("--name", a->name, "which of the model's named templates (default, tool_use, rag, ...)")
      ->capture_default_str();
  cmd->callback([a, bos, eos, bos_option, eos_option] {
    if (bos_option->count()) a->bos = *bos;
    if (eos_option->count()) a->eos = *eos;
    run(*a);
  });
}

}  // namespace tunekit::cli
