// JSON in and out of template values: the context arrives as nlohmann::ordered_json (key order is
// kept, as Python's json.load keeps it), and |tojson writes what transformers' override writes:
// json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/value.h"

namespace tunekit::jinja {

Value from_json(const nlohmann::ordered_json& j);

struct JsonStyle {
  std::optional<std::string> indent;  // unset: one line; else the text of one indentation level
  std::string item_separator = ", ";  // json.dumps picks "," when indenting
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
  size_t max_bytes = SIZE_MAX;  // longer output is an EvalError (deep indentation multiplies sizes)
};

// json.dumps; TypeError (as EvalError) for values JSON cannot hold (undefined, callables, iterators).
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace tunekit::jinja
