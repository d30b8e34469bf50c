// The parsed template: expression and statement nodes mirroring jinja2's (nodes.py), each with the
// line and column it starts at for error messages.
#pragma once
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/value.h"

namespace tunekit::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  ExprPtr star_args;    // *list
  ExprPtr star_kwargs;  // **dict
};

// A filter application; known is false for a name jinja2 would only reject when it runs (inside
// an if or an inline if), so the error comes at render time there too.
struct FilterCall {
  std::string name;
  Arguments args;
  Pos pos;
  bool known = true;
};

struct Literal { Value value; };
struct Name { std::string name; };
struct ListExpr { std::vector<ExprPtr> items; bool tuple = false; };
struct DictExpr { std::vector<std::pair<ExprPtr, ExprPtr>> items; };
struct GetAttr { ExprPtr object; std::string name; };
struct GetItem { ExprPtr object; ExprPtr key; };
struct SliceExpr { ExprPtr object; ExprPtr start, stop, step; };
struct CallExpr { ExprPtr callee; Arguments args; };
struct FilterExpr { ExprPtr subject; FilterCall filter; };
struct TestExpr { ExprPtr subject; std::string name; Arguments args; bool known = true; };
struct NotExpr { ExprPtr operand; };
struct NegExpr { ExprPtr operand; bool plus = false; };
struct BinaryExpr { BinaryOp op; ExprPtr left, right; };
struct LogicExpr { bool is_and; ExprPtr left, right; };
struct ConcatExpr { std::vector<ExprPtr> items; };
struct CompareExpr { ExprPtr first; std::vector<std::pair<CompareOp, ExprPtr>> rest; };
struct CondExpr { ExprPtr test, then_value, else_value; };  // else_value may be null

struct Expr {
  Pos pos;
  std::variant<Literal, Name, ListExpr, DictExpr, GetAttr, GetItem, SliceExpr, CallExpr, FilterExpr, TestExpr,
               NotExpr, NegExpr, BinaryExpr, LogicExpr, ConcatExpr, CompareExpr, CondExpr>
      node;
};

// An assignment target: a name, a (nested) tuple of targets, or namespace.attribute.
struct Target {
  std::string name;
  std::string attribute;      // set for ns.attr targets
  std::vector<Target> items;  // set for tuples
  bool is_tuple = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// The variables a scope owns (jinja2's compile-time symbols, see scopes.h) and their value when the
// scope is entered: set by the construct (loop target, macro argument), copied from the enclosing
// scope, looked up in the render context, or undefined until assigned.
enum class SlotInit { Parameter, Alias, Resolve, Undefined };
struct Slot {
  std::string name;
  SlotInit init;
};
using Slots = std::vector<Slot>;

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
  Slots slots;
};

struct TextStmt { std::string text; };
struct OutputStmt { ExprPtr value; };
struct IfStmt { std::vector<std::pair<ExprPtr, Body>> branches; Body else_body; };
struct ForStmt { Target target; ExprPtr iterable; ExprPtr filter; Body body; Body else_body; Slots body_slots, else_slots; };
struct SetStmt { Target target; ExprPtr value; };
struct SetBlockStmt { Target target; std::vector<FilterCall> filters; Body body; Slots slots; };
struct FilterBlockStmt { std::vector<FilterCall> filters; Body body; Slots slots; };
struct MacroStmt { std::shared_ptr<MacroDef> macro; };
struct CallBlockStmt { std::shared_ptr<MacroDef> caller; ExprPtr call; };
struct WithStmt { std::vector<std::pair<Target, ExprPtr>> assignments; Body body; Slots slots; };
struct LoopControlStmt { bool is_break; };
struct ScopeStmt { Body body; Slots slots; };  // {% generation %}: renders its body in place

struct Stmt {
  Pos pos;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, FilterBlockStmt, MacroStmt,
               CallBlockStmt, WithStmt, LoopControlStmt, ScopeStmt>
      node;
};

struct Template {
  std::string origin;
  Body body;
  Slots slots;
};

}  // namespace tunekit::jinja
