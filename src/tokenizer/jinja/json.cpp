#include "tokenizer/jinja/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja/operators.h"
#include "tokenizer/utf8.h"

namespace tunekit::jinja {

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      ValueDict d;
      for (const auto& [key, item] : j.items()) d.set(Value(key), from_json(item));
      return Value::dict(std::move(d));
    }
    default: return Value::none();  // binary and discarded values do not come from parsed JSON
  }
}

namespace {

void append_escaped(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[pos]);
    char buf[16];
    switch (c) {
      case '"': out += "\\\""; ++pos; continue;
      case '\\': out += "\\\\"; ++pos; continue;
      case '\n': out += "\\n"; ++pos; continue;
      case '\r': out += "\\r"; ++pos; continue;
      case '\t': out += "\\t"; ++pos; continue;
      case '\b': out += "\\b"; ++pos; continue;
      case '\f': out += "\\f"; ++pos; continue;
      default: break;
    }
    if (c < 0x20) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++pos;
      continue;
    }
    size_t len = 1;
    char32_t cp = utf8::decode(s, pos, &len);
    if (ensure_ascii && c >= 0x80) {
      if (cp >= 0x10000) {
        char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + static_cast<unsigned>(v >> 10),
                      0xDC00 + static_cast<unsigned>(v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      out.append(s, pos, len);
    }
    pos += len;
  }
  out += '"';
}

std::string float_json(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Infinity" : "Infinity";
  return float_repr(f);
}

// A dict key as json.dumps converts it: str as is, numbers and constants spelled as JSON.
std::string key_text(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String: return key.as_string();
    case Value::Kind::Bool: return key.as_bool() ? "true" : "false";
    case Value::Kind::None: return "null";
    case Value::Kind::Int: return std::to_string(key.as_int());
    case Value::Kind::Float: return float_json(key.as_float());
    default: eval_fail("keys must be str, int, float, bool or None, not ", key.type_name());
  }
}

class JsonWriter {
 public:
  JsonWriter(const JsonStyle& style) : style_(style) {}

  void write(const Value& v, int level) {
    switch (v.kind()) {
      case Value::Kind::None: out_ += "null"; return;
      case Value::Kind::Bool: out_ += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out_ += std::to_string(v.as_int()); return;
      case Value::Kind::Float: out_ += float_json(v.as_float()); return;
      case Value::Kind::String: append_escaped(out_, v.as_string(), style_.ensure_ascii); return;
      case Value::Kind::List: write_list(v.as_list(), level); return;
      case Value::Kind::Dict: write_dict(v.as_dict(), level); return;
      default: eval_fail("Object of type ", v.type_name(), " is not JSON serializable");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(int level) {
    if (!style_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *style_.indent;
    if (out_.size() > style_.max_bytes) eval_fail("tojson output exceeds the limit of ", style_.max_bytes, " bytes");
  }

  void write_list(const ValueList& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out_ += style_.item_separator;
      newline(level + 1);
      write(items[i], level + 1);
    }
    newline(level);
    out_ += ']';
  }

  void write_dict(const ValueDict& d, int level) {
    if (d.empty()) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : d.entries()) entries.push_back(&entry);
    if (style_.sort_keys)
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return order(a->first, b->first) < 0; });
    out_ += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out_ += style_.item_separator;
      newline(level + 1);
      append_escaped(out_, key_text(entries[i]->first), style_.ensure_ascii);
      out_ += style_.key_separator;
      write(entries[i]->second, level + 1);
    }
    newline(level);
    out_ += '}';
  }

  const JsonStyle& style_;
  std::string out_;
};

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
  JsonWriter writer(style);
  writer.write(v, 0);
  return writer.take();
}

}  // namespace tunekit::jinja
