#include <algorithm>
#include <charconv>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {

Params::Params(const char* function, CallArgs& args, std::initializer_list<const char*> names, size_t required)
    : function_(function), names_(names), slots_(names.size()) {
  if (args.positional.size() > names_.size())
    eval_fail(function_, "() takes at most ", names_.size(), " argument(s) (", args.positional.size(), " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) slots_[i] = args.positional[i];
  for (auto& keyword : args.keywords) {
    const std::string& name = keyword.first;
    const Value& value = keyword.second;
    auto it = std::find_if(names_.begin(), names_.end(), [&](const char* n) { return name == n; });
    if (it == names_.end()) eval_fail(function_, "() got an unexpected keyword argument '", name, "'");
    auto i = static_cast<size_t>(it - names_.begin());
    if (slots_[i]) eval_fail(function_, "() got multiple values for argument '", name, "'");
    slots_[i] = value;
  }
  for (size_t i = 0; i < required; ++i)
    if (!slots_[i]) eval_fail(function_, "() missing required argument '", names_[i], "'");
}

int64_t Params::get_int(size_t i, int64_t fallback) const {
  if (!slots_[i]) return fallback;
  if (!slots_[i]->is_integral())
    eval_fail(function_, "(): '", names_[i], "' must be an integer, not ", slots_[i]->type_name());
  return slots_[i]->as_int();
}

std::optional<std::string> Params::get_string(size_t i) const {
  if (!slots_[i] || slots_[i]->is_none()) return std::nullopt;
  if (!slots_[i]->is_string()) eval_fail(function_, "(): '", names_[i], "' must be a string, not ", slots_[i]->type_name());
  return slots_[i]->as_string();
}

Value get_path(Interpreter& in, const Value& item, const Value& path) {
  if (!path.is_string()) return in.get_item(item, path);
  Value current = item;
  for (const std::string& part : text::split(path.as_string(), std::string("."), -1, false)) {
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int64_t index = 0;
    digits = digits && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc();
    current = in.get_item(current, digits ? Value(index) : Value(part));
  }
  return current;
}

}  // namespace tunekit::jinja
