// Runs a parsed template over a context, with jinja2's scoping: a for loop body gets a fresh scope
// per iteration (sets inside do not leak, nor carry over to the next iteration), if blocks share
// their enclosing scope, macros see the scope they were defined in (by reference, as a Python
// closure does) and their own parameters. Limits on output size, steps and call depth turn runaway
// templates into errors.
#pragma once
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace tunekit::jinja {

struct RenderOptions {
  std::optional<std::tm> now;  // what strftime_now() formats; unset: the local time at the call
  size_t max_output_bytes = 64u << 20;
  size_t max_steps = 10'000'000;  // statements, loop iterations and calls
  int max_call_depth = 200;       // nested macro calls
};

struct Frame {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(const Template& tmpl, const RenderOptions& options);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders with the context's keys as variables (context is a dict). Throws tunekit::Error.
  std::string render(const Value& context);

  // Services for the builtins (filters, tests, globals, methods); they throw EvalError.
  Value call(const Value& callee, CallArgs args);
  Value get_attr(const Value& object, const std::string& name);  // x.name
  Value get_item(const Value& object, const Value& key);         // x[key]
  Value filter(const std::string& name, const Value& subject, CallArgs args);
  bool test(const std::string& name, const Value& subject, CallArgs args);
  std::shared_ptr<Namespace> new_namespace();
  const RenderOptions& options() const { return options_; }
  void count_step();
  void check_size(size_t bytes) const;  // a string or list that big would exceed max_output_bytes

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, const FramePtr& frame, std::string& out);
  Flow exec(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Flow exec_for(const ForStmt& s, const FramePtr& frame, std::string& out);
  Flow exec_if(const IfStmt& s, const FramePtr& frame, std::string& out);
  void exec_call_block(const CallBlockStmt& s, const FramePtr& frame, std::string& out);
  FramePtr enter(const Slots& slots, const FramePtr& parent);  // a new scope with its variables set up
  std::string render_scope(const Body& body, const Slots& slots, const FramePtr& parent);
  Value apply_filters(const std::vector<FilterCall>& filters, Value subject, const FramePtr& frame);
  void assign(const Target& target, Value value, const FramePtr& frame);
  void emit(std::string& out, const std::string& text);

  Value eval(const Expr& expr, const FramePtr& frame);
  Value eval_node(const Expr& expr, const FramePtr& frame);
  Value lookup(const std::string& name, const FramePtr& frame);
  CallArgs eval_args(const Arguments& args, const FramePtr& frame);
  Value slice(const Value& object, const SliceExpr& s, const FramePtr& frame);
  Value make_macro(std::shared_ptr<const MacroDef> def, const FramePtr& closure);
  Value call_macro(const MacroDef& def, const FramePtr& closure, CallArgs& args);
  // The `loop` object of one iteration; last_changed is loop.changed()'s memory across iterations.
  Value make_loop(const ValueList& items, size_t index, const std::shared_ptr<std::optional<ValueList>>& last_changed);

  [[noreturn]] void fail_at(Pos pos, const std::string& message) const;

  const Template& tmpl_;
  RenderOptions options_;
  FramePtr globals_;
  FramePtr context_;  // the render's variables, in front of globals_
  size_t steps_ = 0;
  int call_depth_ = 0;
  // Frames that hold macros, and every namespace: cleared at the end so that reference cycles (a
  // macro stored in the scope it closes over, a namespace holding itself) do not leak. Namespaces
  // are held until then so that a long chain of them is freed one by one, not recursively.
  std::vector<std::weak_ptr<Frame>> macro_frames_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  size_t compact_namespaces_at_ = 1024;  // then drop the ones nothing else holds
};

}  // namespace tunekit::jinja
