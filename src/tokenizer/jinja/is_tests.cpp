// The tests of `x is name(args)`, as jinja2's tests.py defines them.
#include <cstdint>
#include <map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {
namespace {

using TestFn = bool (*)(Interpreter& in, const Value& v, const Value& arg);

// value % divisor == remainder, with Python's % (floats included).
bool remainder_is(const Value& v, const Value& divisor, int64_t remainder) {
  return equals(binary(BinaryOp::Mod, v, divisor, SIZE_MAX), Value(remainder));
}

bool same_object(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::None:
    case Value::Kind::Undefined: return true;
    case Value::Kind::Bool:
    case Value::Kind::Int:
    case Value::Kind::Float:
    case Value::Kind::String: return equals(a, b);
    default: return a.identity() == b.identity();
  }
}

bool is_sequence(const Value& v) {
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}

const std::map<std::string, std::pair<TestFn, bool>>& test_table() {  // name -> (test, takes an argument)
  static const std::map<std::string, std::pair<TestFn, bool>> table = [] {
    std::map<std::string, std::pair<TestFn, bool>> t;
    auto add = [&](std::initializer_list<const char*> names, TestFn fn, bool has_arg) {
      for (const char* name : names) t[name] = {fn, has_arg};
    };
    add({"defined"}, [](Interpreter&, const Value& v, const Value&) { return !v.is_undefined(); }, false);
    add({"undefined"}, [](Interpreter&, const Value& v, const Value&) { return v.is_undefined(); }, false);
    add({"none"}, [](Interpreter&, const Value& v, const Value&) { return v.is_none(); }, false);
    add({"boolean"}, [](Interpreter&, const Value& v, const Value&) { return v.is_bool(); }, false);
    add({"true"}, [](Interpreter&, const Value& v, const Value&) { return v.is_bool() && v.as_bool(); }, false);
    add({"false"}, [](Interpreter&, const Value& v, const Value&) { return v.is_bool() && !v.as_bool(); }, false);
    add({"integer"}, [](Interpreter&, const Value& v, const Value&) { return v.is_int(); }, false);
    add({"float"}, [](Interpreter&, const Value& v, const Value&) { return v.is_float(); }, false);
    add({"number"}, [](Interpreter&, const Value& v, const Value&) { return v.is_number(); }, false);
    add({"string"}, [](Interpreter&, const Value& v, const Value&) { return v.is_string(); }, false);
    add({"mapping"}, [](Interpreter&, const Value& v, const Value&) { return v.is_dict(); }, false);
    add({"iterable"}, [](Interpreter&, const Value& v, const Value&) {
      return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() || v.is_iterator();
    }, false);
    add({"sequence"}, [](Interpreter&, const Value& v, const Value&) { return is_sequence(v); }, false);
    add({"callable"}, [](Interpreter&, const Value& v, const Value&) { return v.is_function() || v.is_undefined(); }, false);
    add({"escaped"}, [](Interpreter&, const Value& v, const Value&) { return v.is_markup(); }, false);
    add({"lower"}, [](Interpreter&, const Value& v, const Value&) { return text::is_lower(to_str(v)); }, false);
    add({"upper"}, [](Interpreter&, const Value& v, const Value&) { return text::is_upper(to_str(v)); }, false);
    add({"odd"}, [](Interpreter&, const Value& v, const Value&) { return remainder_is(v, Value(int64_t{2}), 1); }, false);
    add({"even"}, [](Interpreter&, const Value& v, const Value&) { return remainder_is(v, Value(int64_t{2}), 0); }, false);
    add({"divisibleby"}, [](Interpreter&, const Value& v, const Value& n) { return remainder_is(v, n, 0); }, true);
    add({"sameas"}, [](Interpreter&, const Value& v, const Value& other) { return same_object(v, other); }, true);
    add({"eq", "equalto", "=="}, [](Interpreter&, const Value& v, const Value& o) { return equals(v, o); }, true);
    add({"ne", "!="}, [](Interpreter&, const Value& v, const Value& o) { return !equals(v, o); }, true);
    add({"lt", "lessthan", "<"}, [](Interpreter&, const Value& v, const Value& o) { return compare(CompareOp::Lt, v, o); }, true);
    add({"le", "<="}, [](Interpreter&, const Value& v, const Value& o) { return compare(CompareOp::Le, v, o); }, true);
    add({"gt", "greaterthan", ">"}, [](Interpreter&, const Value& v, const Value& o) { return compare(CompareOp::Gt, v, o); }, true);
    add({"ge", ">="}, [](Interpreter&, const Value& v, const Value& o) { return compare(CompareOp::Ge, v, o); }, true);
    add({"in"}, [](Interpreter&, const Value& v, const Value& seq) { return contains(seq, v); }, true);
    add({"filter"}, [](Interpreter&, const Value& v, const Value&) { return v.is_string() && has_filter(v.as_string()); }, false);
    add({"test"}, [](Interpreter&, const Value& v, const Value&) { return v.is_string() && has_test(v.as_string()); }, false);
    return t;
  }();
  return table;
}

}  // namespace

bool has_test(const std::string& name) { return test_table().count(name) != 0; }

bool apply_test(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args) {
  auto it = test_table().find(name);
  if (it == test_table().end()) eval_fail("no test named '", name, "'");
  auto [fn, has_arg] = it->second;
  if (!args.keywords.empty()) eval_fail("the '", name, "' test takes no keyword arguments");
  size_t expected = has_arg ? 1 : 0;
  if (args.positional.size() != expected)
    eval_fail("the '", name, "' test takes ", expected, " argument(s), got ", args.positional.size());
  return fn(in, subject, has_arg ? args.positional[0] : Value());
}

}  // namespace tunekit::jinja
