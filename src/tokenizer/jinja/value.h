// The values a Jinja template computes with, modelled on the Python objects jinja2 sees:
// undefined, None, bool, int, float, str (optionally Markup, from |safe), list, tuple, dict
// (insertion-ordered), namespace(), callables (macros, builtins, bound methods) and one-shot
// iterators (what jinja2's map/select/... filters return). Lists and dicts are immutable and shared
// (the sandbox forbids mutating them); only namespaces change in place.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tunekit/error.h"

namespace tunekit::jinja {

class Value;
class ValueDict;
class Interpreter;
struct Namespace;
struct Function;
struct IteratorState;

using ValueList = std::vector<Value>;

// A failure while evaluating, without a position yet: the interpreter catches it at the innermost
// expression or statement and throws tunekit::Error("origin:line:col: message").
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Parts>
[[noreturn]] void eval_fail(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  throw EvalError(out.str());
}

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function, Iterator };

  Value() = default;  // undefined
  Value(bool b) : kind_(Kind::Bool) { num_.b = b; }
  Value(int64_t i) : kind_(Kind::Int) { num_.i = i; }
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double f) : kind_(Kind::Float) { num_.f = f; }
  Value(std::string s, bool markup = false) : kind_(Kind::String), flag_(markup), text_(std::move(s)) {}
  Value(const char* s) : Value(std::string(s)) {}

  // An undefined value; message is what using it in a failing way reports ("'x' is undefined").
  static Value undefined(std::string message);
  static Value none();
  static Value list(ValueList items);
  static Value tuple(ValueList items);
  static Value dict(ValueDict entries);
  static Value namespace_object(std::shared_ptr<Namespace> ns);
  static Value function(std::shared_ptr<const Function> fn);
  static Value iterator(ValueList items, std::string type_name);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python int, bool included
  bool is_number() const { return is_integral() || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && flag_; }
  bool is_list() const { return kind_ == Kind::List; }  // list or tuple
  bool is_tuple() const { return kind_ == Kind::List && flag_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }
  bool is_iterator() const { return kind_ == Kind::Iterator; }

  bool as_bool() const { return num_.b; }
  int64_t as_int() const { return kind_ == Kind::Bool ? (num_.b ? 1 : 0) : num_.i; }  // integral kinds
  double as_float() const;                                                          // any number
  const std::string& as_string() const { return text_; }  // strings; the message of an undefined
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(ref_); }
  const ValueDict& as_dict() const { return *std::get<std::shared_ptr<const ValueDict>>(ref_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(ref_); }
  const Function& as_function() const { return *std::get<std::shared_ptr<const Function>>(ref_); }
  IteratorState& as_iterator() const { return *std::get<std::shared_ptr<IteratorState>>(ref_); }
  const void* identity() const;  // the shared object behind a reference kind (for `is sameas`)
  int64_t nesting() const;        // levels of lists, dicts and iterators in one of them (1 for [1, 2])

  const char* type_name() const;  // Python's name for the type: 'NoneType', 'int', 'str', 'dict', ...

 private:
  Kind kind_ = Kind::Undefined;
  bool flag_ = false;  // strings: Markup; lists: tuple
  union {
    bool b;
    int64_t i;
    double f;
  } num_{};
  std::string text_;
  std::variant<std::monostate, std::shared_ptr<const ValueList>, std::shared_ptr<const ValueDict>,
               std::shared_ptr<Namespace>, std::shared_ptr<const Function>, std::shared_ptr<IteratorState>>
      ref_;
};

// Insertion-ordered mapping with Python key semantics (1, 1.0 and True are one key).
class ValueDict {
 public:
  const Value* find(const Value& key) const;
  // Replaces the value of an existing key (keeping the first key object, as Python does) or appends.
  void set(const Value& key, Value value);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  std::vector<std::pair<Value, Value>> entries_;
};

// namespace(): attributes that {% set ns.attr = ... %} changes in place. Objects like cycler() reuse
// it for their attributes but are not assignable from templates.
struct Namespace {
  ValueDict attrs;
  bool assignable = true;
  std::string type_name = "Namespace";
};

// Positional and keyword arguments of a call, in source order.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
  bool is_macro = false;
};

// A one-shot sequence: iterating it (or taking |list of it) consumes what is left. error is what a
// Python generator would raise after yielding items (see generator() in filters_sequence.cpp).
struct IteratorState {
  ValueList items;
  size_t next = 0;
  std::string type_name;
  std::optional<std::string> error;
  std::optional<Value> pull();  // the next item; nullopt at the end; throws error when reaching it
  ValueList take_rest();
};

// Lists, dicts and iterators may nest this deep (deeper ones are an EvalError): printing,
// comparing and freeing them recurses.
constexpr int64_t kMaxValueNesting = 200;

// Python semantics shared by the whole engine.
bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);         // ==
bool is_hashable(const Value& v);                     // may be a dict key
std::string to_str(const Value& v);                   // str(v): what {{ v }} prints ("" for undefined)
std::string to_repr(const Value& v);                  // repr(v): how v prints inside a list or dict
std::string float_repr(double f);                     // repr(float): 1.0, 1e-05, 0.30000000000000004
[[noreturn]] void fail_undefined(const Value& v);     // throws EvalError with v's message

}  // namespace tunekit::jinja
