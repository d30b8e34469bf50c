// Expressions: names, literals, operators, attribute and item access with jinja2's sandboxed
// getattr/getitem rules, slicing, calls, filters and tests.
#include <algorithm>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/overloaded.h"
#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {
namespace {

// How jinja2 names an object in "... has no attribute" messages.
std::string object_name(const Value& v) {
  if (v.is_none()) return "None";
  return std::string(v.type_name()).append(" object");
}

Value missing_attribute(const Value& object, const std::string& name) {
  std::string message = "'";
  message.append(object_name(object)).append("' has no attribute '").append(name).append("'");
  return Value::undefined(std::move(message));
}

Value missing_item(const Value& object, const Value& key) {
  if (key.is_string()) return missing_attribute(object, key.as_string());
  std::string message = "'";
  message.append(object_name(object)).append("' has no element ").append(to_repr(key));
  return Value::undefined(std::move(message));
}

// Python's slice.indices(): clamps start/stop for a sequence of length n.
void slice_bounds(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step, int64_t& from,
                  int64_t& to) {
  int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? n - 1 : n;
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v < 0 ? *v + n : *v;
    return std::clamp(x, lower, upper);
  };
  from = clamp(start, step < 0 ? upper : lower);
  to = clamp(stop, step < 0 ? lower : upper);
}

}  // namespace

Value Interpreter::eval(const Expr& expr, const FramePtr& frame) {
  try {
    return eval_node(expr, frame);
  } catch (const EvalError& e) {
    fail_at(expr.pos, e.what());
  }
}

Value Interpreter::eval_node(const Expr& expr, const FramePtr& frame) {
  return std::visit(
      Overloaded{
          [&](const Literal& e) { return e.value; },
          [&](const Name& e) { return lookup(e.name, frame); },
          [&](const ListExpr& e) {
            ValueList items;
            for (const ExprPtr& item : e.items) items.push_back(eval(*item, frame));
            return e.tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
          },
          [&](const DictExpr& e) {
            ValueDict d;
            for (const auto& [key_expr, value_expr] : e.items) {
              Value key = eval(*key_expr, frame);
              if (!is_hashable(key)) eval_fail("unhashable type: '", key.type_name(), "'");
              d.set(key, eval(*value_expr, frame));
            }
            return Value::dict(std::move(d));
          },
          [&](const GetAttr& e) { return get_attr(eval(*e.object, frame), e.name); },
          [&](const GetItem& e) {
            Value object = eval(*e.object, frame);
            return get_item(object, eval(*e.key, frame));
          },
          [&](const SliceExpr& e) { return slice(eval(*e.object, frame), e, frame); },
          [&](const CallExpr& e) {
            Value callee = eval(*e.callee, frame);
            return call(callee, eval_args(e.args, frame));
          },
          [&](const FilterExpr& e) {
            Value subject = eval(*e.subject, frame);
            if (!e.filter.known) eval_fail("no filter named '", e.filter.name, "'");
            return filter(e.filter.name, subject, eval_args(e.filter.args, frame));
          },
          [&](const TestExpr& e) {
            Value subject = eval(*e.subject, frame);
            if (!e.known) eval_fail("no test named '", e.name, "'");
            return Value(test(e.name, subject, eval_args(e.args, frame)));
          },
          [&](const NotExpr& e) { return Value(!truthy(eval(*e.operand, frame))); },
          [&](const NegExpr& e) {
            Value v = eval(*e.operand, frame);
            return e.plus ? unary_plus(v) : negate(v);
          },
          [&](const BinaryExpr& e) {
            Value left = eval(*e.left, frame);
            return binary(e.op, left, eval(*e.right, frame), options_.max_output_bytes);
          },
          [&](const LogicExpr& e) {
            Value left = eval(*e.left, frame);
            if (truthy(left) != e.is_and) return left;
            return eval(*e.right, frame);
          },
          [&](const ConcatExpr& e) {
            std::string s;
            for (const ExprPtr& item : e.items) {
              s += to_str(eval(*item, frame));
              if (s.size() > options_.max_output_bytes)
                eval_fail("string concatenation exceeds the limit of ", options_.max_output_bytes, " bytes");
            }
            return Value(std::move(s));
          },
          [&](const CompareExpr& e) {
            Value left = eval(*e.first, frame);
            for (const auto& [op, right_expr] : e.rest) {
              Value right = eval(*right_expr, frame);
              if (!compare(op, left, right)) return Value(false);
              left = std::move(right);
            }
            return Value(true);
          },
          [&](const CondExpr& e) {
            if (truthy(eval(*e.test, frame))) return eval(*e.then_value, frame);
            if (e.else_value) return eval(*e.else_value, frame);
            return Value::undefined("the inline if-expression on line " + std::to_string(expr.pos.line) +
                                    " evaluated to false and no else section was defined.");
          },
      },
      expr.node);
}

Value Interpreter::lookup(const std::string& name, const FramePtr& frame) {
  for (const Frame* f = frame.get(); f; f = f->parent.get())
    if (const Value* v = f->find(name)) return *v;
  return Value::undefined("'" + name + "' is undefined");
}

CallArgs Interpreter::eval_args(const Arguments& args, const FramePtr& frame) {
  CallArgs out;
  for (const ExprPtr& e : args.positional) out.positional.push_back(eval(*e, frame));
  if (args.star_args) {
    ValueList extra = iterate(eval(*args.star_args, frame));
    out.positional.insert(out.positional.end(), extra.begin(), extra.end());
  }
  for (const auto& [name, e] : args.keywords) out.keywords.emplace_back(name, eval(*e, frame));
  if (args.star_kwargs) {
    Value d = eval(*args.star_kwargs, frame);
    if (!d.is_dict()) eval_fail("argument after ** must be a mapping, not ", d.type_name());
    for (const auto& [key, value] : d.as_dict().entries()) {
      if (!key.is_string()) eval_fail("keywords must be strings");
      out.keywords.emplace_back(key.as_string(), value);
    }
  }
  return out;
}

Value Interpreter::call(const Value& callee, CallArgs args) {
  count_step();
  if (callee.is_function()) return callee.as_function().call(*this, args);
  if (callee.is_undefined()) fail_undefined(callee);
  eval_fail("'", callee.type_name(), "' object is not callable");
}

Value Interpreter::filter(const std::string& name, const Value& subject, CallArgs args) {
  return apply_filter(*this, name, subject, args);
}

bool Interpreter::test(const std::string& name, const Value& subject, CallArgs args) {
  return apply_test(*this, name, subject, args);
}

Value Interpreter::get_attr(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::Undefined: fail_undefined(object);
    case Value::Kind::Dict: {
      if (auto m = method(object, name)) return *m;
      if (const Value* v = object.as_dict().find(Value(name))) return *v;
      return missing_attribute(object, name);
    }
    case Value::Kind::Namespace: {
      if (const Value* v = object.as_namespace().attrs.find(Value(name))) return *v;
      return missing_attribute(object, name);
    }
    default: {
      if (auto m = method(object, name)) return *m;
      return missing_attribute(object, name);
    }
  }
}

Value Interpreter::get_item(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::Undefined: fail_undefined(object);
    case Value::Kind::Dict:
      if (is_hashable(key))
        if (const Value* v = object.as_dict().find(key)) return *v;
      break;
    case Value::Kind::List:
      if (key.is_integral()) {
        auto n = static_cast<int64_t>(object.as_list().size());
        int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
        if (i >= 0 && i < n) return object.as_list()[static_cast<size_t>(i)];
        return missing_item(object, key);
      }
      break;
    case Value::Kind::String:
      if (key.is_integral()) {
        auto offsets = text::char_offsets(object.as_string());
        auto n = static_cast<int64_t>(offsets.size()) - 1;
        int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
        if (i >= 0 && i < n) {
          auto at = static_cast<size_t>(i);
          return Value(object.as_string().substr(offsets[at], offsets[at + 1] - offsets[at]), object.is_markup());
        }
        return missing_item(object, key);
      }
      break;
    default: break;
  }
  // jinja2 falls back to the attribute of the same name when the subscript fails.
  if (key.is_string() && !object.is_dict()) return get_attr(object, key.as_string());
  if (key.is_string())
    if (auto m = method(object, key.as_string())) return *m;
  return missing_item(object, key);
}

// jinja2 compiles x[a:b] to a plain Python subscript (not its forgiving getitem): slicing anything
// but a str, list or tuple is an error, as are bounds that are not integers.
Value Interpreter::slice(const Value& object, const SliceExpr& s, const FramePtr& frame) {
  bool valid = true;
  auto bound = [&](const ExprPtr& e) -> std::optional<int64_t> {
    if (!e) return std::nullopt;
    Value v = eval(*e, frame);
    if (v.is_integral()) return v.as_int();
    if (!v.is_none()) valid = false;
    return std::nullopt;
  };
  std::optional<int64_t> start = bound(s.start), stop = bound(s.stop), step_value = bound(s.step);
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_dict()) eval_fail("unhashable type: 'slice'");
  if (!object.is_list() && !object.is_string()) eval_fail("'", object.type_name(), "' object is not subscriptable");
  if (!valid) eval_fail("slice indices must be integers or None or have an __index__ method");
  int64_t step = step_value.value_or(1);
  if (step == 0) eval_fail("slice step cannot be zero");
  std::vector<size_t> offsets;
  int64_t n = 0;
  if (object.is_string()) {
    offsets = text::char_offsets(object.as_string());
    n = static_cast<int64_t>(offsets.size()) - 1;
  } else {
    n = static_cast<int64_t>(object.as_list().size());
  }
  int64_t from = 0, to = 0;
  slice_bounds(n, start, stop, step, from, to);
  if (object.is_string()) {
    std::string out;
    for (int64_t i = from; step > 0 ? i < to : i > to; i += step) {
      auto at = static_cast<size_t>(i);
      out.append(object.as_string(), offsets[at], offsets[at + 1] - offsets[at]);
    }
    return Value(std::move(out), object.is_markup());
  }
  ValueList out;
  for (int64_t i = from; step > 0 ? i < to : i > to; i += step) out.push_back(object.as_list()[static_cast<size_t>(i)]);
  return object.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace tunekit::jinja
