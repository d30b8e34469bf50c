// The builtin filters, tests, global functions and str/dict/list methods, with jinja2 3.1's
// semantics (transformers' tojson override, raise_exception and strftime_now included).
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace tunekit::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args);

// The global functions: range, namespace, dict, joiner, cycler, raise_exception, strftime_now.
void add_globals(Frame& globals);

// obj.name for a str, list, tuple or dict method: a bound method; an Undefined that fails when
// called for the methods the immutable sandbox forbids (list.append, dict.update, ...); nullopt
// when the type has no such method.
std::optional<Value> method(const Value& object, const std::string& name);

// Binds a call's arguments to named parameters like a Python signature; missing ones are unset.
class Params {
 public:
  Params(const char* function, CallArgs& args, std::initializer_list<const char*> names, size_t required = 0);
  bool has(size_t i) const { return slots_[i].has_value(); }
  const Value& get(size_t i) const { return *slots_[i]; }
  Value get_or(size_t i, Value fallback) const { return slots_[i] ? *slots_[i] : std::move(fallback); }
  int64_t get_int(size_t i, int64_t fallback) const;  // must be an int where given
  std::optional<std::string> get_string(size_t i) const;  // must be a str where given (None: unset)

 private:
  const char* function_;
  std::vector<const char*> names_;
  std::vector<std::optional<Value>> slots_;
};

// Dotted attribute paths as jinja2's make_attrgetter reads them ("a.b", "items.0").
Value get_path(Interpreter& in, const Value& item, const Value& path);

}  // namespace tunekit::jinja
