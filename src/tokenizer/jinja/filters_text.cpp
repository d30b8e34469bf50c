// Filters on single values: strings, numbers, markup and JSON.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/jinja/filter_table.h"
#include "tokenizer/jinja/json.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"
#include "tokenizer/utf8.h"

namespace tunekit::jinja {
namespace {

// jinja2's soft_str: strings (Markup too) stay as they are, anything else becomes str(value).
Value soft_str(const Value& v) { return v.is_string() ? v : Value(to_str(v)); }

Value filter_trim(Interpreter&, const Value& v, CallArgs& args) {
  Params p("trim", args, {"chars"});
  Value s = soft_str(v);
  return Value(text::strip(s.as_string(), p.get_string(0), true, true), s.is_markup());
}

template <std::string (*Transform)(std::string_view)>
Value keep_markup(Interpreter&, const Value& v, CallArgs& args) {
  Params p("upper/lower/capitalize", args, {});
  Value s = soft_str(v);
  return Value(Transform(s.as_string()), s.is_markup());
}

Value filter_title(Interpreter&, const Value& v, CallArgs& args) {
  Params p("title", args, {});
  return Value(text::jinja_title(soft_str(v).as_string()));
}

Value filter_replace(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("replace", args, {"old", "new", "count"}, 2);
  int64_t count = p.has(2) && !p.get(2).is_none() ? p.get_int(2, -1) : -1;
  std::string s = to_str(v), old = to_str(p.get(0)), replacement = to_str(p.get(1));
  in.check_size(text::replaced_size(s, old, replacement));
  return Value(text::replace(s, old, replacement, count));
}

Value filter_indent(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("indent", args, {"width", "first", "blank"});
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string()) eval_fail("indent expects a string, not ", v.type_name());
  Value width = p.get_or(0, Value(int64_t{4}));
  if (!width.is_string() && !width.is_integral()) eval_fail("indent(): width must be an integer or a string");
  in.check_size(width.is_string() ? width.as_string().size() : static_cast<size_t>(std::max<int64_t>(0, width.as_int())));
  std::string indention = width.is_string() ? width.as_string() : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  bool first = truthy(p.get_or(1, Value(false))), blank = truthy(p.get_or(2, Value(false)));
  std::vector<std::string> lines = text::splitlines(v.as_string() + "\n");
  in.check_size(v.as_string().size() + (lines.size() + 1) * indention.size());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    if (i && (blank || !lines[i].empty())) out += indention;
    out += lines[i];
  }
  if (first) out = indention + out;
  return Value(std::move(out), v.is_markup());
}

Value filter_center(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("center", args, {"width"});
  in.check_size(static_cast<size_t>(std::max<int64_t>(0, p.get_int(0, 80))));
  return Value(text::pad(to_str(v), p.get_int(0, 80), " ", true, true));
}

Value filter_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  Params p("wordcount", args, {});
  std::string s = to_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {  // Python's \w+: alphanumerics and _
    size_t len = 0;
    char32_t cp = utf8::decode(s, pos, &len);
    bool word_char = cp == '_' || text::is_alnum(cp);
    if (word_char && !in_word) ++words;
    in_word = word_char;
    pos += len;
  }
  return Value(words);
}

Value filter_string(Interpreter&, const Value& v, CallArgs& args) {
  Params p("string", args, {});
  return soft_str(v);
}

Value filter_safe(Interpreter&, const Value& v, CallArgs& args) {
  Params p("safe", args, {});
  return Value(to_str(v), true);
}

Value filter_escape(Interpreter&, const Value& v, CallArgs& args) {
  Params p("escape", args, {});
  if (v.is_markup()) return v;
  return Value(text::html_escape(to_str(v)), true);
}

Value filter_forceescape(Interpreter&, const Value& v, CallArgs& args) {
  Params p("forceescape", args, {});
  return Value(text::html_escape(to_str(v)), true);
}

Value filter_tojson(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle style;
  style.max_bytes = in.options().max_output_bytes;
  style.ensure_ascii = truthy(p.get_or(0, Value(false)));
  Value indent = p.get_or(1, Value::none());
  if (indent.is_string()) {
    style.indent = indent.as_string();
  } else if (indent.is_integral()) {
    in.check_size(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())));
    style.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
  } else if (!indent.is_none()) {
    eval_fail("tojson(): indent must be an integer or a string");
  }
  if (style.indent) style.item_separator.assign(1, ',');
  Value separators = p.get_or(2, Value::none());
  if (!separators.is_none()) {
    if (!separators.is_list() || separators.as_list().size() != 2 || !separators.as_list()[0].is_string() ||
        !separators.as_list()[1].is_string())
      eval_fail("tojson(): separators must be a pair of strings");
    style.item_separator = separators.as_list()[0].as_string();
    style.key_separator = separators.as_list()[1].as_string();
  }
  style.sort_keys = truthy(p.get_or(3, Value(false)));
  return Value(to_json(v, style));
}

// Python's float(str): surrounding whitespace, underscores between digits, inf/nan spellings.
std::optional<double> parse_float(const std::string& raw) {
  std::string s = text::strip(raw, std::nullopt, true, true);
  std::string cleaned;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      bool between = i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                     std::isdigit(static_cast<unsigned char>(s[i + 1]));
      if (!between) return std::nullopt;
      continue;
    }
    cleaned += s[i];
  }
  std::string lowered = text::lower(cleaned);
  std::string body = lowered.substr(!lowered.empty() && (lowered[0] == '+' || lowered[0] == '-') ? 1 : 0);
  double sign = !lowered.empty() && lowered[0] == '-' ? -1.0 : 1.0;
  if (body == "inf" || body == "infinity") return sign * INFINITY;
  if (body == "nan") return NAN;
  if (body.empty() || body.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  return value;
}

// Python's int(str, base): sign, optional prefix matching the base, underscores between digits.
std::optional<int64_t> parse_int(const std::string& raw, int64_t base) {
  std::string s = text::strip(raw, std::nullopt, true, true);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i + 1 < s.size() && s[i] == '0') {
    char prefix = static_cast<char>(s[i + 1] | 0x20);
    int64_t prefixed = prefix == 'x' ? 16 : prefix == 'o' ? 8 : prefix == 'b' ? 2 : 0;
    if (prefixed && (base == 0 || base == prefixed)) {
      base = prefixed;
      i += 2;
      if (i < s.size() && s[i] == '_') ++i;
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36 || i >= s.size()) return std::nullopt;
  int64_t value = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_' && i + 1 < s.size() && s[i + 1] != '_' && i > 0 && s[i - 1] != '_') continue;
    int64_t digit = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
    if (digit >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, digit, &value))
      eval_fail("int(): ", raw, " does not fit in 64 bits");
  }
  return negative ? -value : value;
}

Value float_to_int(double f) {
  if (std::isinf(f)) eval_fail("cannot convert float infinity to integer");
  if (std::fabs(f) >= 9.2e18) eval_fail("int(): ", float_repr(f), " does not fit in 64 bits");
  return Value(static_cast<int64_t>(f));
}

Value filter_int(Interpreter&, const Value& v, CallArgs& args) {
  Params p("int", args, {"default", "base"});
  Value fallback = p.get_or(0, Value(int64_t{0}));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) return Value(v.as_int());
  if (v.is_float()) return std::isnan(v.as_float()) ? fallback : float_to_int(v.as_float());
  if (!v.is_string()) return fallback;
  if (auto i = parse_int(v.as_string(), p.get_int(1, 10))) return Value(*i);
  auto f = parse_float(v.as_string());
  return f && !std::isnan(*f) ? float_to_int(*f) : fallback;
}

Value filter_float(Interpreter&, const Value& v, CallArgs& args) {
  Params p("float", args, {"default"});
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string())
    if (auto f = parse_float(v.as_string())) return Value(*f);
  return p.get_or(0, Value(0.0));
}

// Python's round(x, n): correctly rounded, ties to even (printf rounds the exact binary value the same way).
double round_half_even(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits < 0) {
    double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(x / scale) * scale;
  }
  if (digits > 300) return x;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
  return std::strtod(buf, nullptr);
}

Value filter_round(Interpreter&, const Value& v, CallArgs& args) {
  Params p("round", args, {"precision", "method"});
  int64_t precision = p.get_int(0, 0);
  std::string method = p.get_string(1).value_or("common");
  if (method != "common" && method != "ceil" && method != "floor") eval_fail("method must be common, ceil or floor");
  if (!v.is_number()) eval_fail("type ", v.type_name(), " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_integral() && precision >= 0) return Value(v.as_int());
    double r = round_half_even(v.as_float(), precision);
    return v.is_integral() ? Value(static_cast<int64_t>(r)) : Value(r);
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double scaled = v.as_float() * scale;
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_abs(Interpreter&, const Value& v, CallArgs& args) {
  Params p("abs", args, {});
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_integral()) return v.as_int() < 0 ? negate(Value(v.as_int())) : Value(v.as_int());
  if (v.is_undefined()) fail_undefined(v);
  eval_fail("bad operand type for abs(): '", v.type_name(), "'");
}

Value filter_default(Interpreter&, const Value& v, CallArgs& args) {
  Params p("default", args, {"default_value", "boolean"});
  bool use_default = v.is_undefined() || (truthy(p.get_or(1, Value(false))) && !truthy(v));
  return use_default ? p.get_or(0, Value("")) : v;
}

Value filter_attr(Interpreter&, const Value& v, CallArgs& args) {
  Params p("attr", args, {"name"}, 1);
  if (v.is_undefined()) fail_undefined(v);
  std::string name = to_str(p.get(0));
  if (v.is_namespace())
    if (const Value* found = v.as_namespace().attrs.find(Value(name))) return *found;
  if (auto m = method(v, name)) return *m;
  std::string message = "'";
  message.append(v.type_name()).append(" object' has no attribute '").append(name).append("'");
  return Value::undefined(std::move(message));
}

}  // namespace

void add_text_filters(FilterTable& table) {
  table["trim"] = filter_trim;
  table["upper"] = keep_markup<text::upper>;
  table["lower"] = keep_markup<text::lower>;
  table["capitalize"] = keep_markup<text::capitalize>;
  table["title"] = filter_title;
  table["replace"] = filter_replace;
  table["indent"] = filter_indent;
  table["center"] = filter_center;
  table["wordcount"] = filter_wordcount;
  table["string"] = filter_string;
  table["safe"] = filter_safe;
  table["e"] = filter_escape;
  table["escape"] = filter_escape;
  table["forceescape"] = filter_forceescape;
  table["tojson"] = filter_tojson;
  table["int"] = filter_int;
  table["float"] = filter_float;
  table["round"] = filter_round;
  table["abs"] = filter_abs;
  table["default"] = filter_default;
  table["d"] = filter_default;
  table["attr"] = filter_attr;
}

}  // namespace tunekit::jinja
