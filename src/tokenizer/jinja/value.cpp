#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {

Value Value::undefined(std::string message) {
  Value v;
  v.text_ = std::move(message);
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

namespace {

int64_t nesting_of(const Value& v) { return v.is_list() || v.is_dict() || v.is_iterator() ? v.nesting() : 0; }

int64_t checked_nesting(int64_t inner) {
  if (inner + 1 > kMaxValueNesting) eval_fail("lists and dicts are nested deeper than ", kMaxValueNesting, " levels");
  return inner + 1;
}

}  // namespace

int64_t Value::nesting() const { return num_.i; }

Value Value::list(ValueList items) {
  int64_t inner = 0;
  for (const Value& item : items) inner = std::max(inner, nesting_of(item));
  Value v;
  v.kind_ = Kind::List;
  v.num_.i = checked_nesting(inner);
  v.ref_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::tuple(ValueList items) {
  Value v = list(std::move(items));
  v.flag_ = true;
  return v;
}

Value Value::dict(ValueDict entries) {
  int64_t inner = 0;
  for (const auto& [key, value] : entries.entries()) inner = std::max({inner, nesting_of(key), nesting_of(value)});
  Value v;
  v.kind_ = Kind::Dict;
  v.num_.i = checked_nesting(inner);
  v.ref_ = std::make_shared<const ValueDict>(std::move(entries));
  return v;
}

Value Value::namespace_object(std::shared_ptr<Namespace> ns) {
  Value v;
  v.kind_ = Kind::Namespace;
  v.ref_ = std::move(ns);
  return v;
}

Value Value::function(std::shared_ptr<const Function> fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.ref_ = std::move(fn);
  return v;
}

Value Value::iterator(ValueList items, std::string type_name) {
  int64_t inner = 0;
  for (const Value& item : items) inner = std::max(inner, nesting_of(item));
  Value v;
  v.kind_ = Kind::Iterator;
  v.num_.i = checked_nesting(inner);
  auto state = std::make_shared<IteratorState>();
  state->items = std::move(items);
  state->type_name = std::move(type_name);
  v.ref_ = std::move(state);
  return v;
}

double Value::as_float() const { return kind_ == Kind::Float ? num_.f : static_cast<double>(as_int()); }

const void* Value::identity() const {
  return std::visit(
      [](const auto& p) -> const void* {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, std::monostate>) {
          return nullptr;
        } else {
          return p.get();
        }
      },
      ref_);
}

const char* Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return flag_ ? "Markup" : "str";
    case Kind::List: return flag_ ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return as_namespace().type_name.c_str();
    case Kind::Function: return as_function().is_macro ? "Macro" : "function";
    case Kind::Iterator: return as_iterator().type_name.c_str();
  }
  return "object";
}

std::optional<Value> IteratorState::pull() {
  if (next < items.size()) return items[next++];
  if (error) throw EvalError(*error);
  return std::nullopt;
}

ValueList IteratorState::take_rest() {
  ValueList rest;
  while (std::optional<Value> item = pull()) rest.push_back(std::move(*item));
  return rest;
}

const Value* ValueDict::find(const Value& key) const {
  for (const auto& [k, v] : entries_)
    if (equals(k, key)) return &v;
  return nullptr;
}

void ValueDict::set(const Value& key, Value value) {
  for (auto& [k, v] : entries_) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(key, std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int() != 0;
    case Value::Kind::Float: return v.as_float() != 0.0;
    case Value::Kind::String: return !v.as_string().empty();
    case Value::Kind::List: return !v.as_list().empty();
    case Value::Kind::Dict: return !v.as_dict().empty();
    default: return true;
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::List: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const ValueList &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const ValueDict &x = a.as_dict(), &y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

bool is_hashable(const Value& v) {
  if (v.is_dict()) return false;
  if (v.is_list()) {
    if (!v.is_tuple()) return false;
    for (const Value& item : v.as_list())
      if (!is_hashable(item)) return false;
  }
  return true;
}

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, then Python's layout: exponent form when the decimal point would
  // sit more than 16 places right or 4 places left of the first digit.
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exponent = std::atoi(sci.c_str() + e + 1);
  int decpt = exponent + 1;  // value = 0.digits * 10^decpt
  std::string out = negative ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp;
  }
  if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(decpt) - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out += '.';
    out.append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

// Printing state: the depth, and the namespaces being printed (a namespace can hold itself; Python
// prints the repeated one as {...}).
struct ReprState {
  int depth = 0;
  std::vector<const void*> open_namespaces;
};

// Beyond this depth (only chains of namespaces reach it; lists and dicts stop at
// kMaxValueNesting) the rest prints as "...".
constexpr int kMaxReprDepth = 2 * kMaxValueNesting;

std::string repr_at(const Value& v, ReprState& state);

std::string join_repr(const ValueList& items, const char* open, const char* close, bool tuple, ReprState& state) {
  std::string out = open;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += repr_at(items[i], state);
  }
  if (tuple && items.size() == 1) out += ",";
  return out + close;
}

std::string dict_repr(const ValueDict& d, ReprState& state) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : d.entries()) {
    if (!first) out += ", ";
    first = false;
    out += repr_at(k, state) + ": " + repr_at(v, state);
  }
  return out + "}";
}

std::string namespace_repr(const Value& v, ReprState& state) {
  const void* id = v.identity();
  const Namespace& ns = v.as_namespace();
  bool open = std::find(state.open_namespaces.begin(), state.open_namespaces.end(), id) != state.open_namespaces.end();
  if (open) return "<" + ns.type_name + " {...}>";
  state.open_namespaces.push_back(id);
  std::string out = "<" + ns.type_name + " " + dict_repr(ns.attrs, state) + ">";
  state.open_namespaces.pop_back();
  return out;
}

std::string repr_at(const Value& v, ReprState& state) {
  if (state.depth > kMaxReprDepth) return "...";
  ++state.depth;
  std::string out;
  switch (v.kind()) {
    case Value::Kind::Undefined: out = "Undefined"; break;
    case Value::Kind::None: out = "None"; break;
    case Value::Kind::Bool: out = v.as_bool() ? "True" : "False"; break;
    case Value::Kind::Int: out = std::to_string(v.as_int()); break;
    case Value::Kind::Float: out = float_repr(v.as_float()); break;
    case Value::Kind::String:
      out = v.is_markup() ? "Markup(" + text::repr(v.as_string()) + ")" : text::repr(v.as_string());
      break;
    case Value::Kind::List:
      out = v.is_tuple() ? join_repr(v.as_list(), "(", ")", true, state) : join_repr(v.as_list(), "[", "]", false, state);
      break;
    case Value::Kind::Dict: out = dict_repr(v.as_dict(), state); break;
    case Value::Kind::Namespace: out = namespace_repr(v, state); break;
    case Value::Kind::Function:
      out = v.as_function().is_macro ? "<Macro '" + v.as_function().name + "'>" : "<function " + v.as_function().name + ">";
      break;
    case Value::Kind::Iterator: out = "<" + v.as_iterator().type_name + " object>"; break;
  }
  --state.depth;
  return out;
}

}  // namespace

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return v.as_string();
    default: return to_repr(v);
  }
}

std::string to_repr(const Value& v) {
  ReprState state;
  return repr_at(v, state);
}

void fail_undefined(const Value& v) { throw EvalError(v.as_string().empty() ? "undefined value" : v.as_string()); }

}  // namespace tunekit::jinja
