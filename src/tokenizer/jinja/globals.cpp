// Global functions every template sees: jinja2's range (capped as the sandbox caps it), dict,
// namespace, joiner and cycler, and transformers' raise_exception and strftime_now.
#include <ctime>

#include "tokenizer/jinja/builtins.h"

namespace tunekit::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

using Native = Value (*)(Interpreter& in, CallArgs& args);

void add(Frame& globals, const char* name, Native fn) {
  auto f = std::make_shared<Function>();
  f->name = name;
  f->call = fn;
  globals.set(name, Value::function(std::move(f)));
}

Value range(Interpreter&, CallArgs& args) {
  Params p("range", args, {"start", "stop", "step"}, 1);
  int64_t start = 0, stop = p.get_int(0, 0), step = p.get_int(2, 1);
  if (p.has(1)) {
    start = stop;
    stop = p.get_int(1, 0);
  }
  if (step == 0) eval_fail("range() arg 3 must not be zero");
  int64_t count = 0;
  if (step > 0 && start < stop) count = (stop - start - 1) / step + 1;
  if (step < 0 && start > stop) count = (start - stop - 1) / (-step) + 1;
  if (count > kMaxRange)
    eval_fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (", kMaxRange, ").");
  ValueList items;
  for (int64_t i = 0; i < count; ++i) items.emplace_back(start + i * step);
  return Value::list(std::move(items));
}

// dict(**kwargs) and namespace(mapping?, **kwargs) collect their arguments the same way.
ValueDict collect_attrs(const char* function, CallArgs& args) {
  if (args.positional.size() > 1) eval_fail(function, "() takes at most 1 positional argument");
  ValueDict attrs;
  if (!args.positional.empty()) {
    if (!args.positional[0].is_dict()) eval_fail(function, "() expects a mapping, not ", args.positional[0].type_name());
    attrs = args.positional[0].as_dict();
  }
  for (auto& [key, value] : args.keywords) attrs.set(Value(key), value);
  return attrs;
}

Value dict(Interpreter&, CallArgs& args) { return Value::dict(collect_attrs("dict", args)); }

Value make_namespace(Interpreter& in, CallArgs& args) {
  auto ns = in.new_namespace();
  ns->attrs = collect_attrs("namespace", args);
  return Value::namespace_object(std::move(ns));
}

Value joiner(Interpreter&, CallArgs& args) {
  Params p("joiner", args, {"sep"});
  std::string separator = p.get_string(0).value_or(", ");
  auto used = std::make_shared<bool>(false);
  auto f = std::make_shared<Function>();
  f->name = "joiner";
  f->call = [separator, used](Interpreter&, CallArgs&) -> Value {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(separator);
  };
  return Value::function(std::move(f));
}

// cycler(*items): .next() returns the items in turn, .current the one next() returns next,
// .reset() starts over.
Value cycler(Interpreter& in, CallArgs& args) {
  if (args.positional.empty()) eval_fail("cycler() needs at least one item");
  auto ns = in.new_namespace();
  ns->assignable = false;
  ns->type_name = "Cycler";
  auto items = std::make_shared<ValueList>(args.positional);
  std::weak_ptr<Namespace> self = ns;
  auto position = std::make_shared<size_t>(0);
  auto method_of = [](const char* name, std::function<Value(Interpreter&, CallArgs&)> fn) {
    auto f = std::make_shared<Function>();
    f->name = name;
    f->call = std::move(fn);
    return Value::function(std::move(f));
  };
  ns->attrs.set(Value("current"), (*items)[0]);
  ns->attrs.set(Value("next"), method_of("next", [items, self, position](Interpreter&, CallArgs&) {
    Value result = (*items)[*position];
    *position = (*position + 1) % items->size();
    if (auto ns = self.lock()) ns->attrs.set(Value("current"), (*items)[*position]);
    return result;
  }));
  ns->attrs.set(Value("reset"), method_of("reset", [items, self, position](Interpreter&, CallArgs&) {
    *position = 0;
    if (auto ns = self.lock()) ns->attrs.set(Value("current"), (*items)[0]);
    return Value::none();
  }));
  return Value::namespace_object(std::move(ns));
}

Value raise_exception(Interpreter&, CallArgs& args) {
  Params p("raise_exception", args, {"message"}, 1);
  throw EvalError(to_str(p.get(0)));
}

Value strftime_now(Interpreter& in, CallArgs& args) {
  Params p("strftime_now", args, {"format"}, 1);
  std::string format = to_str(p.get(0));
  std::tm now{};
  if (in.options().now) {
    now = *in.options().now;
  } else {
    std::time_t t = std::time(nullptr);
    localtime_r(&t, &now);
  }
  if (format.empty()) return Value("");
  for (size_t size = 256; size <= (1u << 20); size *= 4) {
    std::string buf(size, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &now);
    if (n > 0) return Value(buf.substr(0, n));
  }
  return Value("");  // only formats that produce nothing (e.g. "%p" in some locales) end here
}

}  // namespace

void add_globals(Frame& globals) {
  add(globals, "range", range);
  add(globals, "dict", dict);
  add(globals, "namespace", make_namespace);
  add(globals, "joiner", joiner);
  add(globals, "cycler", cycler);
  add(globals, "raise_exception", raise_exception);
  add(globals, "strftime_now", strftime_now);
}

}  // namespace tunekit::jinja
