#include "tunekit/tokenizer/chat_template.h"

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/json.h"
#include "tokenizer/jinja/parser.h"
#include "tunekit/error.h"

namespace tunekit {

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& origin) {
  ChatTemplate t;
  t.template_ = std::make_shared<const jinja::Template>(jinja::parse_template(source, origin));
  t.source_ = source;
  return t;
}

const std::string& ChatTemplate::origin() const { return template_->origin; }

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  check(context.is_object(), template_->origin, ": the rendering context must be a JSON object, not ",
        context.type_name());
  jinja::RenderOptions options;
  options.now = now_;
  options.max_output_bytes = limits_.max_output_bytes;
  options.max_steps = limits_.max_steps;
  options.max_call_depth = limits_.max_call_depth;
  jinja::Value variables;
  try {
    variables = jinja::from_json(context);
  } catch (const jinja::EvalError& e) {
    fail(template_->origin, ": the rendering context: ", e.what());
  }
  jinja::Interpreter interpreter(*template_, options);
  return interpreter.render(variables);
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                const std::string& bos_token, const std::string& eos_token) const {
  nlohmann::ordered_json context;
  context["messages"] = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) context["messages"].push_back({{"role", m.role}, {"content", m.content}});
  context["tools"] = nullptr;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  return render(context);
}

}  // namespace tunekit
