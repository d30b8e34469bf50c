// Methods templates call on str, dict, list and tuple values ('x'.strip(), d.items(), d.get(k)).
// The immutable sandbox makes the mutating ones (list.append, dict.update, ...) unsafe: reading
// them gives an undefined that fails when called, as jinja2's unsafe_undefined does.
#include <algorithm>
#include <functional>
#include <map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {
namespace {

using Method = Value (*)(Interpreter& in, const Value& self, CallArgs& args);

Value bind(const Value& self, const std::string& name, Method m) {
  auto f = std::make_shared<Function>();
  f->name = name;
  f->call = [self, m](Interpreter& in, CallArgs& args) { return m(in, self, args); };
  return Value::function(std::move(f));
}

Value same_kind(const Value& self, std::string s) { return Value(std::move(s), self.is_markup()); }

Value string_list(const Value& self, const std::vector<std::string>& parts) {
  ValueList out;
  for (const std::string& part : parts) out.push_back(same_kind(self, part));
  return Value::list(std::move(out));
}

Value strip_method(const Value& self, CallArgs& args, bool left, bool right) {
  Params p("strip", args, {"chars"});
  return same_kind(self, text::strip(self.as_string(), p.get_string(0), left, right));
}

Value split_method(const Value& self, CallArgs& args, bool from_right) {
  Params p("split", args, {"sep", "maxsplit"});
  std::optional<std::string> sep = p.get_string(0);
  if (sep && sep->empty()) eval_fail("empty separator");
  return string_list(self, text::split(self.as_string(), sep, p.get_int(1, -1), from_right));
}

bool affix_method(const Value& self, CallArgs& args, bool at_end) {
  Params p(at_end ? "endswith" : "startswith", args, {"affix"}, 1);
  const std::string& s = self.as_string();
  auto matches = [&](const Value& affix) {
    if (!affix.is_string()) eval_fail("startswith/endswith arg must be str or a tuple of str, not ", affix.type_name());
    const std::string& a = affix.as_string();
    if (a.size() > s.size()) return false;
    return at_end ? s.compare(s.size() - a.size(), a.size(), a) == 0 : s.compare(0, a.size(), a) == 0;
  };
  if (p.get(0).is_tuple()) {
    for (const Value& a : p.get(0).as_list())
      if (matches(a)) return true;
    return false;
  }
  return matches(p.get(0));
}

std::string substring_arg(const char* function, CallArgs& args) {
  Params p(function, args, {"sub"}, 1);
  if (!p.get(0).is_string()) eval_fail(function, "() argument must be str, not ", p.get(0).type_name());
  return p.get(0).as_string();
}

Value pad_method(Interpreter& in, const Value& self, CallArgs& args, const char* function, bool left, bool right) {
  Params p(function, args, {"width", "fillchar"}, 1);
  std::string fill = p.get_string(1).value_or(" ");
  if (text::char_count(fill) != 1) eval_fail("The fill character must be exactly one character long");
  in.check_size(static_cast<size_t>(std::max<int64_t>(0, p.get_int(0, 0))) * fill.size());
  return same_kind(self, text::pad(self.as_string(), p.get_int(0, 0), fill, left, right));
}

template <bool (*Predicate)(char32_t)>
Value char_predicate(Interpreter&, const Value& self, CallArgs& args) {
  Params p("is", args, {});
  return Value(text::all_chars(self.as_string(), Predicate));
}

template <std::string (*Transform)(std::string_view)>
Value transform_method(Interpreter&, const Value& self, CallArgs& args) {
  Params p("str", args, {});
  return same_kind(self, Transform(self.as_string()));
}

const std::map<std::string, Method>& string_methods() {
  static const std::map<std::string, Method> table = {
      {"strip", [](Interpreter&, const Value& s, CallArgs& a) { return strip_method(s, a, true, true); }},
      {"lstrip", [](Interpreter&, const Value& s, CallArgs& a) { return strip_method(s, a, true, false); }},
      {"rstrip", [](Interpreter&, const Value& s, CallArgs& a) { return strip_method(s, a, false, true); }},
      {"split", [](Interpreter&, const Value& s, CallArgs& a) { return split_method(s, a, false); }},
      {"rsplit", [](Interpreter&, const Value& s, CallArgs& a) { return split_method(s, a, true); }},
      {"splitlines", [](Interpreter&, const Value& s, CallArgs& a) {
         Params p("splitlines", a, {});
         return string_list(s, text::splitlines(s.as_string()));
       }},
      {"startswith", [](Interpreter&, const Value& s, CallArgs& a) { return Value(affix_method(s, a, false)); }},
      {"endswith", [](Interpreter&, const Value& s, CallArgs& a) { return Value(affix_method(s, a, true)); }},
      {"upper", transform_method<text::upper>},
      {"lower", transform_method<text::lower>},
      {"title", transform_method<text::title>},
      {"capitalize", transform_method<text::capitalize>},
      {"swapcase", transform_method<text::swapcase>},
      {"replace", [](Interpreter& in, const Value& s, CallArgs& a) {
         Params p("replace", a, {"old", "new", "count"}, 2);
         if (!p.get(0).is_string() || !p.get(1).is_string()) eval_fail("replace() arguments must be str");
         in.check_size(text::replaced_size(s.as_string(), p.get(0).as_string(), p.get(1).as_string()));
         return same_kind(s, text::replace(s.as_string(), p.get(0).as_string(), p.get(1).as_string(), p.get_int(2, -1)));
       }},
      {"find", [](Interpreter&, const Value& s, CallArgs& a) { return Value(text::find(s.as_string(), substring_arg("find", a), false)); }},
      {"rfind", [](Interpreter&, const Value& s, CallArgs& a) { return Value(text::find(s.as_string(), substring_arg("rfind", a), true)); }},
      {"index", [](Interpreter&, const Value& s, CallArgs& a) {
         int64_t at = text::find(s.as_string(), substring_arg("index", a), false);
         if (at < 0) eval_fail("substring not found");
         return Value(at);
       }},
      {"count", [](Interpreter&, const Value& s, CallArgs& a) { return Value(text::count(s.as_string(), substring_arg("count", a))); }},
      {"join", [](Interpreter& in, const Value& s, CallArgs& a) {
         Params p("join", a, {"iterable"}, 1);
         std::string out;
         size_t i = 0;
         for (const Value& item : iterate(p.get(0))) {
           if (!item.is_string()) eval_fail("sequence item ", i, ": expected str instance, ", item.type_name(), " found");
           if (i++) out += s.as_string();
           out += item.as_string();
           in.check_size(out.size());
         }
         return same_kind(s, std::move(out));
       }},
      {"isdigit", char_predicate<text::is_digit>},
      {"isalpha", char_predicate<text::is_alpha>},
      {"isalnum", char_predicate<text::is_alnum>},
      {"isspace", char_predicate<text::is_space>},
      {"islower", [](Interpreter&, const Value& s, CallArgs& a) {
         Params p("islower", a, {});
         return Value(text::is_lower(s.as_string()));
       }},
      {"isupper", [](Interpreter&, const Value& s, CallArgs& a) {
         Params p("isupper", a, {});
         return Value(text::is_upper(s.as_string()));
       }},
      {"center", [](Interpreter& in, const Value& s, CallArgs& a) { return pad_method(in, s, a, "center", true, true); }},
      {"ljust", [](Interpreter& in, const Value& s, CallArgs& a) { return pad_method(in, s, a, "ljust", false, true); }},
      {"rjust", [](Interpreter& in, const Value& s, CallArgs& a) { return pad_method(in, s, a, "rjust", true, false); }},
      {"zfill", [](Interpreter& in, const Value& s, CallArgs& a) {
         Params p("zfill", a, {"width"}, 1);
         in.check_size(static_cast<size_t>(std::max<int64_t>(0, p.get_int(0, 0))));
         const std::string& str = s.as_string();
         bool sign = !str.empty() && (str[0] == '+' || str[0] == '-');
         std::string padded = text::pad(str.substr(sign ? 1 : 0), p.get_int(0, 0) - (sign ? 1 : 0), "0", true, false);
         return same_kind(s, (sign ? str.substr(0, 1) : "") + padded);
       }},
      {"format", [](Interpreter&, const Value&, CallArgs&) -> Value { eval_fail("str.format() is not supported by tunekit"); }},
  };
  return table;
}

Value dict_pairs(const Value& d, int which) {  // 0: keys, 1: values, 2: (key, value) tuples
  ValueList out;
  for (const auto& [key, value] : d.as_dict().entries())
    out.push_back(which == 0 ? key : which == 1 ? value : Value::tuple({key, value}));
  return Value::list(std::move(out));
}

const std::map<std::string, Method>& dict_methods() {
  static const std::map<std::string, Method> table = {
      {"keys", [](Interpreter&, const Value& d, CallArgs& a) { Params p("keys", a, {}); return dict_pairs(d, 0); }},
      {"values", [](Interpreter&, const Value& d, CallArgs& a) { Params p("values", a, {}); return dict_pairs(d, 1); }},
      {"items", [](Interpreter&, const Value& d, CallArgs& a) { Params p("items", a, {}); return dict_pairs(d, 2); }},
      {"get", [](Interpreter&, const Value& d, CallArgs& a) {
         Params p("get", a, {"key", "default"}, 1);
         if (!is_hashable(p.get(0))) eval_fail("unhashable type: '", p.get(0).type_name(), "'");
         const Value* found = d.as_dict().find(p.get(0));
         return found ? *found : p.get_or(1, Value::none());
       }},
      {"copy", [](Interpreter&, const Value& d, CallArgs& a) { Params p("copy", a, {}); return d; }},
  };
  return table;
}

const std::map<std::string, Method>& sequence_methods() {
  static const std::map<std::string, Method> table = {
      {"index", [](Interpreter&, const Value& l, CallArgs& a) {
         Params p("index", a, {"value"}, 1);
         const ValueList& items = l.as_list();
         for (size_t i = 0; i < items.size(); ++i)
           if (equals(items[i], p.get(0))) return Value(static_cast<int64_t>(i));
         eval_fail(to_repr(p.get(0)), " is not in ", l.is_tuple() ? "tuple" : "list");
       }},
      {"count", [](Interpreter&, const Value& l, CallArgs& a) {
         Params p("count", a, {"value"}, 1);
         int64_t n = 0;
         for (const Value& item : l.as_list()) n += equals(item, p.get(0)) ? 1 : 0;
         return Value(n);
       }},
      {"copy", [](Interpreter&, const Value& l, CallArgs& a) { Params p("copy", a, {}); return l; }},  // lists only
  };
  return table;
}

const char* const kUnsafeListMethods[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
const char* const kUnsafeDictMethods[] = {"clear", "pop", "popitem", "setdefault", "update"};

bool listed(const char* const* begin, const char* const* end, const std::string& name) {
  return std::find(begin, end, name) != end;
}

Value unsafe(const Value& object, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + object.type_name() + "' object is unsafe.");
}

std::optional<Value> find_in(const std::map<std::string, Method>& table, const Value& self, const std::string& name) {
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return bind(self, name, it->second);
}

}  // namespace

std::optional<Value> method(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::String: return find_in(string_methods(), object, name);
    case Value::Kind::Dict:
      if (listed(std::begin(kUnsafeDictMethods), std::end(kUnsafeDictMethods), name)) return unsafe(object, name);
      return find_in(dict_methods(), object, name);
    case Value::Kind::List:
      if (!object.is_tuple() && listed(std::begin(kUnsafeListMethods), std::end(kUnsafeListMethods), name))
        return unsafe(object, name);
      if (name == "copy" && object.is_tuple()) return std::nullopt;
      return find_in(sequence_methods(), object, name);
    default: return std::nullopt;
  }
}

}  // namespace tunekit::jinja
