// Statements: output, control flow, assignment, macros and call blocks.
#include "tokenizer/jinja/interpreter.h"

#include <algorithm>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/overloaded.h"

namespace tunekit::jinja {
namespace {

FramePtr child_of(const FramePtr& parent) {
  auto frame = std::make_shared<Frame>();
  frame->parent = parent;
  return frame;
}

// Keeps the macro call depth right even when the body throws.
class DepthCount {
 public:
  explicit DepthCount(int& depth) : depth_(depth) { ++depth_; }
  ~DepthCount() { --depth_; }
  DepthCount(const DepthCount&) = delete;
  DepthCount& operator=(const DepthCount&) = delete;

 private:
  int& depth_;
};

}  // namespace

const Value* Frame::find(const std::string& name) const {
  for (const auto& [key, value] : vars)
    if (key == name) return &value;
  return nullptr;
}

void Frame::set(const std::string& name, Value value) {
  for (auto& [key, existing] : vars) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

Interpreter::Interpreter(const Template& tmpl, const RenderOptions& options)
    : tmpl_(tmpl), options_(options), globals_(std::make_shared<Frame>()) {
  add_globals(*globals_);
}

Interpreter::~Interpreter() {
  for (auto& weak : macro_frames_)
    if (auto frame = weak.lock()) frame->vars.clear();
  for (auto& ns : namespaces_) ns->attrs.clear();
}

std::string Interpreter::render(const Value& context) {
  context_ = child_of(globals_);
  for (const auto& [key, value] : context.as_dict().entries()) context_->set(key.as_string(), value);
  FramePtr root = enter(tmpl_.slots, context_);
  std::string out;
  exec(tmpl_.body, root, out);
  return out;
}

void Interpreter::count_step() {
  if (++steps_ > options_.max_steps)
    eval_fail("the template ran more than ", options_.max_steps, " steps (an endless loop?)");
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.max_output_bytes)
    eval_fail("a value of ", bytes, " bytes or items would exceed the limit of ", options_.max_output_bytes);
}

std::shared_ptr<Namespace> Interpreter::new_namespace() {
  if (namespaces_.size() >= compact_namespaces_at_) {
    std::erase_if(namespaces_, [](const std::shared_ptr<Namespace>& ns) { return ns.use_count() == 1; });
    compact_namespaces_at_ = 2 * namespaces_.size() + 1024;
  }
  auto ns = std::make_shared<Namespace>();
  namespaces_.push_back(ns);
  return ns;
}

void Interpreter::fail_at(Pos pos, const std::string& message) const {
  fail(tmpl_.origin, ":", pos.line, ":", pos.column, ": ", message);
}

void Interpreter::emit(std::string& out, const std::string& text) {
  if (out.size() + text.size() > options_.max_output_bytes)
    eval_fail("the rendering is larger than the limit of ", options_.max_output_bytes, " bytes");
  out += text;
}

Interpreter::Flow Interpreter::exec(const Body& body, const FramePtr& frame, std::string& out) {
  for (const StmtPtr& stmt : body) {
    Flow flow = exec(*stmt, frame, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  try {
    count_step();
    return std::visit(
        Overloaded{
            [&](const TextStmt& s) {
              emit(out, s.text);
              return Flow::Normal;
            },
            [&](const OutputStmt& s) {
              emit(out, to_str(eval(*s.value, frame)));
              return Flow::Normal;
            },
            [&](const IfStmt& s) { return exec_if(s, frame, out); },
            [&](const ForStmt& s) { return exec_for(s, frame, out); },
            [&](const SetStmt& s) {
              assign(s.target, eval(*s.value, frame), frame);
              return Flow::Normal;
            },
            [&](const SetBlockStmt& s) {
              assign(s.target, apply_filters(s.filters, Value(render_scope(s.body, s.slots, frame)), frame), frame);
              return Flow::Normal;
            },
            [&](const FilterBlockStmt& s) {
              emit(out, to_str(apply_filters(s.filters, Value(render_scope(s.body, s.slots, frame)), frame)));
              return Flow::Normal;
            },
            [&](const MacroStmt& s) {
              frame->set(s.macro->name, make_macro(s.macro, frame));
              macro_frames_.push_back(frame);
              return Flow::Normal;
            },
            [&](const CallBlockStmt& s) {
              exec_call_block(s, frame, out);
              return Flow::Normal;
            },
            [&](const WithStmt& s) {
              FramePtr scope = enter(s.slots, frame);
              ValueList values;
              for (const auto& [target, value] : s.assignments) values.push_back(eval(*value, frame));
              for (size_t i = 0; i < values.size(); ++i) assign(s.assignments[i].first, values[i], scope);
              return exec(s.body, scope, out);
            },
            [&](const LoopControlStmt& s) { return s.is_break ? Flow::Break : Flow::Continue; },
            [&](const ScopeStmt& s) { return exec(s.body, enter(s.slots, frame), out); },
        },
        stmt.node);
  } catch (const EvalError& e) {
    fail_at(stmt.pos, e.what());
  }
}

Interpreter::Flow Interpreter::exec_if(const IfStmt& s, const FramePtr& frame, std::string& out) {
  for (const auto& [test, body] : s.branches)
    if (truthy(eval(*test, frame))) return exec(body, frame, out);
  return exec(s.else_body, frame, out);
}

Interpreter::Flow Interpreter::exec_for(const ForStmt& s, const FramePtr& frame, std::string& out) {
  ValueList items = iterate(eval(*s.iterable, frame));
  if (s.filter) {
    ValueList kept;
    for (Value& item : items) {
      FramePtr scope = child_of(frame);
      assign(s.target, item, scope);
      if (truthy(eval(*s.filter, scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, enter(s.else_slots, frame), out);
  auto last_changed = std::make_shared<std::optional<ValueList>>();
  for (size_t i = 0; i < items.size(); ++i) {
    count_step();
    FramePtr scope = enter(s.body_slots, frame);
    assign(s.target, items[i], scope);
    scope->set("loop", make_loop(items, i, last_changed));
    if (exec(s.body, scope, out) == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interpreter::make_loop(const ValueList& items, size_t index,
                             const std::shared_ptr<std::optional<ValueList>>& last_changed) {
  auto n = static_cast<int64_t>(items.size());
  auto i = static_cast<int64_t>(index);
  ValueDict loop;
  loop.set("index", Value(i + 1));
  loop.set("index0", Value(i));
  loop.set("revindex", Value(n - i));
  loop.set("revindex0", Value(n - i - 1));
  loop.set("first", Value(i == 0));
  loop.set("last", Value(i == n - 1));
  loop.set("length", Value(n));
  loop.set("depth", Value(int64_t{1}));
  loop.set("depth0", Value(int64_t{0}));
  if (i > 0) loop.set("previtem", items[index - 1]);
  if (i + 1 < n) loop.set("nextitem", items[index + 1]);
  auto cycle = std::make_shared<Function>();
  cycle->name = "cycle";
  cycle->call = [i](Interpreter&, CallArgs& args) -> Value {
    if (args.positional.empty()) eval_fail("no items for cycling given");
    return args.positional[static_cast<size_t>(i) % args.positional.size()];
  };
  loop.set("cycle", Value::function(std::move(cycle)));
  auto changed = std::make_shared<Function>();
  changed->name = "changed";
  changed->call = [last_changed](Interpreter&, CallArgs& args) -> Value {
    if (*last_changed && equals(Value::tuple(**last_changed), Value::tuple(args.positional))) return Value(false);
    *last_changed = args.positional;
    return Value(true);
  };
  loop.set("changed", Value::function(std::move(changed)));
  return Value::dict(std::move(loop));
}

FramePtr Interpreter::enter(const Slots& slots, const FramePtr& parent) {
  FramePtr frame = child_of(parent);
  for (const Slot& slot : slots) {
    switch (slot.init) {
      case SlotInit::Alias: frame->set(slot.name, lookup(slot.name, parent)); break;
      case SlotInit::Resolve: frame->set(slot.name, lookup(slot.name, context_)); break;
      case SlotInit::Parameter:  // the construct assigns it right away
      case SlotInit::Undefined: frame->set(slot.name, Value::undefined("'" + slot.name + "' is undefined")); break;
    }
  }
  return frame;
}

std::string Interpreter::render_scope(const Body& body, const Slots& slots, const FramePtr& parent) {
  std::string out;
  exec(body, enter(slots, parent), out);
  return out;
}

Value Interpreter::apply_filters(const std::vector<FilterCall>& filters, Value subject, const FramePtr& frame) {
  for (const FilterCall& f : filters) {
    try {
      if (!f.known) eval_fail("no filter named '", f.name, "'");
      subject = filter(f.name, subject, eval_args(f.args, frame));
    } catch (const EvalError& e) {
      fail_at(f.pos, e.what());
    }
  }
  return subject;
}

void Interpreter::assign(const Target& target, Value value, const FramePtr& frame) {
  if (!target.attribute.empty()) {
    Value ns = lookup(target.name, frame);
    if (!ns.is_namespace() || !ns.as_namespace().assignable) eval_fail("cannot assign attribute on non-namespace object");
    ns.as_namespace().attrs.set(Value(target.attribute), std::move(value));
    return;
  }
  if (!target.is_tuple) {
    frame->set(target.name, std::move(value));
    return;
  }
  ValueList items = iterate(value);
  size_t expected = target.items.size();
  if (items.size() > expected) eval_fail("too many values to unpack (expected ", expected, ")");
  if (items.size() < expected) eval_fail("not enough values to unpack (expected ", expected, ", got ", items.size(), ")");
  for (size_t i = 0; i < expected; ++i) assign(target.items[i], std::move(items[i]), frame);
}

Value Interpreter::make_macro(std::shared_ptr<const MacroDef> def, const FramePtr& closure) {
  auto fn = std::make_shared<Function>();
  fn->name = def->name;
  fn->is_macro = true;
  fn->call = [def, closure](Interpreter& in, CallArgs& args) { return in.call_macro(*def, closure, args); };
  return Value::function(std::move(fn));
}

Value Interpreter::call_macro(const MacroDef& def, const FramePtr& closure, CallArgs& args) {
  if (call_depth_ >= options_.max_call_depth)
    eval_fail("macro calls are nested deeper than ", options_.max_call_depth, " (endless recursion?)");
  DepthCount depth(call_depth_);
  FramePtr frame = enter(def.slots, closure);
  size_t n = def.params.size();
  if (args.positional.size() > n && !def.uses_varargs)
    eval_fail("macro '", def.name, "' takes not more than ", n, " argument(s)");
  std::vector<bool> given(n, false);
  for (size_t i = 0; i < n && i < args.positional.size(); ++i) {
    frame->set(def.params[i], args.positional[i]);
    given[i] = true;
  }
  ValueDict extra_keywords;
  Value caller = Value::undefined("'caller' is undefined: the macro was not called from a {% call %} block");
  for (auto& [name, value] : args.keywords) {
    auto it = std::find(def.params.begin(), def.params.end(), name);
    if (it != def.params.end()) {
      size_t i = static_cast<size_t>(it - def.params.begin());
      if (given[i]) eval_fail("macro '", def.name, "' got multiple values for argument '", name, "'");
      frame->set(name, value);
      given[i] = true;
    } else if (name == "caller" && def.uses_caller) {
      caller = value;
    } else if (def.uses_kwargs) {
      extra_keywords.set(Value(name), value);
    } else {
      eval_fail("macro '", def.name, "' takes no keyword argument '", name, "'");
    }
  }
  size_t first_default = n - def.defaults.size();
  for (size_t i = 0; i < n; ++i) {
    if (given[i]) continue;
    frame->set(def.params[i], i >= first_default
                                  ? eval(*def.defaults[i - first_default], frame)
                                  : Value::undefined("parameter '" + def.params[i] + "' was not provided"));
  }
  if (def.uses_varargs) {
    ValueList rest;
    for (size_t i = n; i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
    frame->set("varargs", Value::tuple(std::move(rest)));
  }
  if (def.uses_kwargs) frame->set("kwargs", Value::dict(std::move(extra_keywords)));
  if (def.uses_caller) frame->set("caller", caller);
  std::string out;
  exec(def.body, frame, out);
  return Value(std::move(out));
}

void Interpreter::exec_call_block(const CallBlockStmt& s, const FramePtr& frame, std::string& out) {
  const auto& call_expr = std::get<CallExpr>(s.call->node);
  Value callee = eval(*call_expr.callee, frame);
  CallArgs args = eval_args(call_expr.args, frame);
  args.keywords.emplace_back("caller", make_macro(s.caller, frame));
  emit(out, to_str(call(callee, std::move(args))));
}

}  // namespace tunekit::jinja
