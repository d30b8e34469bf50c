#include "tokenizer/jinja/operators.h"

#include <cmath>

#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {
namespace {

const char* symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "** or pow()";
  }
  return "?";
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  eval_fail("unsupported operand type(s) for ", symbol(op), ": '", a.type_name(), "' and '", b.type_name(), "'");
}

[[noreturn]] void overflow() { eval_fail("integer overflow (tunekit templates use 64-bit integers)"); }

int64_t add_int(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

int64_t sub_int(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}

int64_t mul_int(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

// CPython's float floor division and modulo (the result of % takes the sign of the divisor).
std::pair<double, double> float_divmod(double a, double b) {
  if (b == 0.0) eval_fail("float division by zero");
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floor_div = 0.0;
  if (div != 0.0) {
    floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
  } else {
    floor_div = std::copysign(0.0, a / b);
  }
  return {floor_div, mod};
}

Value int_pow(int64_t base, int64_t exponent) {
  if (exponent < 0) {
    if (base == 0) eval_fail("0.0 cannot be raised to a negative power");
    return Value(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
  }
  if (base == 0) return Value(int64_t{exponent == 0 ? 1 : 0});
  if (base == 1) return Value(int64_t{1});
  if (base == -1) return Value(int64_t{exponent % 2 == 0 ? 1 : -1});
  int64_t result = 1;  // |base| >= 2 overflows within 63 steps
  for (int64_t i = 0; i < exponent; ++i) result = mul_int(result, base);
  return Value(result);
}

Value repeat(const Value& seq, const Value& times, size_t max_string_bytes) {
  int64_t n = times.as_int();
  if (seq.is_string()) {
    if (n <= 0) return Value(std::string(), seq.is_markup());
    if (seq.as_string().size() * static_cast<size_t>(n) > max_string_bytes)
      eval_fail("string repetition would exceed the output limit of ", max_string_bytes, " bytes");
    std::string out;
    out.reserve(seq.as_string().size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out), seq.is_markup());
  }
  ValueList out;
  if (n > 0) {
    if (seq.as_list().size() * static_cast<size_t>(n) > max_string_bytes)
      eval_fail("list repetition is too large");
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  }
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_float() || b.is_float() || op == BinaryOp::Div) {
    double x = a.as_float(), y = b.as_float();
    switch (op) {
      case BinaryOp::Add: return Value(x + y);
      case BinaryOp::Sub: return Value(x - y);
      case BinaryOp::Mul: return Value(x * y);
      case BinaryOp::Div:
        if (y == 0.0) eval_fail("division by zero");
        return Value(x / y);
      case BinaryOp::FloorDiv: return Value(float_divmod(x, y).first);
      case BinaryOp::Mod: return Value(float_divmod(x, y).second);
      case BinaryOp::Pow:
        if (x == 0.0 && y < 0) eval_fail("0.0 cannot be raised to a negative power");
        if (x < 0 && y != std::floor(y)) eval_fail("a negative number to a fractional power is complex (unsupported)");
        return Value(std::pow(x, y));
    }
  }
  int64_t x = a.as_int(), y = b.as_int();
  switch (op) {
    case BinaryOp::Add: return Value(add_int(x, y));
    case BinaryOp::Sub: return Value(sub_int(x, y));
    case BinaryOp::Mul: return Value(mul_int(x, y));
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (y == 0) eval_fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) overflow();
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        m += y;
        q -= 1;
      }
      return Value(op == BinaryOp::FloorDiv ? q : m);
    }
    case BinaryOp::Pow: return int_pow(x, y);
    case BinaryOp::Div: break;
  }
  return Value();
}

// Python orders numbers with numbers, str with str, and lists (tuples) with lists (tuples).
void check_orderable(const Value& a, const Value& b, const char* op_text) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  bool orderable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                   (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple());
  if (!orderable)
    eval_fail("'", op_text, "' not supported between instances of '", a.type_name(), "' and '", b.type_name(), "'");
}

bool less(const Value& a, const Value& b, const char* op_text) {
  check_orderable(a, b, op_text);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  const ValueList &x = a.as_list(), &y = b.as_list();
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    if (!equals(x[i], y[i])) return less(x[i], y[i], op_text);
  return x.size() < y.size();
}

bool less_equal(const Value& a, const Value& b, const char* op_text) {
  check_orderable(a, b, op_text);
  return equals(a, b) || less(a, b, op_text);
}

// Concatenation the way str and Markup do it: Markup + str escapes the str.
Value concat_strings(const Value& a, const Value& b) {
  if (a.is_markup() == b.is_markup()) return Value(a.as_string() + b.as_string(), a.is_markup());
  if (a.is_markup()) return Value(a.as_string() + text::html_escape(b.as_string()), true);
  return Value(text::html_escape(a.as_string()) + b.as_string(), true);
}

}  // namespace

Value binary(BinaryOp op, const Value& a, const Value& b, size_t max_string_bytes) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == BinaryOp::Add) {
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > max_string_bytes)
        eval_fail("string concatenation would exceed the output limit of ", max_string_bytes, " bytes");
      return concat_strings(a, b);
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      if (a.as_list().size() + b.as_list().size() > max_string_bytes)
        eval_fail("list concatenation would exceed the limit of ", max_string_bytes, " items");
      ValueList out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string()) eval_fail("can only concatenate str (not \"", b.type_name(), "\") to str");
    if (a.is_list() && !a.is_tuple()) eval_fail("can only concatenate list (not \"", b.type_name(), "\") to list");
  }
  if (op == BinaryOp::Mul) {
    if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b, max_string_bytes);
    if (a.is_integral() && (b.is_string() || b.is_list())) return repeat(b, a, max_string_bytes);
  }
  if (op == BinaryOp::Mod && a.is_string()) eval_fail("printf-style string formatting (str % args) is not supported");
  unsupported(op, a, b);
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return Value(-v.as_float());
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) eval_fail("integer overflow (tunekit templates use 64-bit integers)");
    return Value(-v.as_int());
  }
  eval_fail("bad operand type for unary -: '", v.type_name(), "'");
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return v;
  if (v.is_integral()) return Value(v.as_int());
  eval_fail("bad operand type for unary +: '", v.type_name(), "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string())
        eval_fail("'in <string>' requires string as left operand, not ", item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const Value& x : container.as_list())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::Dict:
      if (!is_hashable(item)) eval_fail("unhashable type: '", item.type_name(), "'");
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::Undefined: return false;
    case Value::Kind::Iterator:
      while (std::optional<Value> x = container.as_iterator().pull())
        if (equals(*x, item)) return true;
      return false;
    default: eval_fail("argument of type '", container.type_name(), "' is not iterable");
  }
}

bool compare(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return equals(a, b);
    case CompareOp::Ne: return !equals(a, b);
    case CompareOp::Lt: return less(a, b, "<");
    case CompareOp::Le: return less_equal(a, b, "<=");
    case CompareOp::Gt: return less(b, a, ">");
    case CompareOp::Ge: return less_equal(b, a, ">=");
    case CompareOp::In: return contains(b, a);
    case CompareOp::NotIn: return !contains(b, a);
  }
  return false;
}

int order(const Value& a, const Value& b) {
  if (less(a, b, "<")) return -1;
  return less(b, a, "<") ? 1 : 0;
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List: return v.as_list();
    case Value::Kind::String: {
      ValueList out;
      for (auto& c : text::chars(v.as_string())) out.emplace_back(std::move(c));  // plain str, even from Markup
      return out;
    }
    case Value::Kind::Dict: {
      ValueList out;
      for (const auto& entry : v.as_dict().entries()) out.push_back(entry.first);
      return out;
    }
    case Value::Kind::Undefined: return {};
    case Value::Kind::Iterator: return v.as_iterator().take_rest();
    default: eval_fail("'", v.type_name(), "' object is not iterable");
  }
}

size_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return text::char_count(v.as_string());
    case Value::Kind::List: return v.as_list().size();
    case Value::Kind::Dict: return v.as_dict().size();
    case Value::Kind::Undefined: return 0;
    default: eval_fail("object of type '", v.type_name(), "' has no len()");
  }
}

}  // namespace tunekit::jinja
