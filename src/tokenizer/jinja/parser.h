// Recursive-descent parser from tokens to the AST, following jinja2's parser.py: the same operator
// precedence (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix, filters
// and tests), the same statements, and the same syntax errors (with line and column).
#pragma once
#include <set>
#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"

namespace tunekit::jinja {

// Parses a whole template; throws tunekit::Error("origin:line:col: message").
Template parse_template(const std::string& source, const std::string& origin);

template <class Node>
ExprPtr make_expr(Pos pos, Node node) {
  auto e = std::make_unique<Expr>();
  e->pos = pos;
  e->node = std::move(node);
  return e;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string origin) : tokens_(std::move(tokens)), origin_(std::move(origin)) {}
  Body parse_all();

 private:
  friend class DepthGuard;

  // Token stream.
  const Token& current() const { return tokens_[index_]; }
  const Token& peek(size_t ahead = 1) const;
  const Token& advance();
  bool is_name(const char* name) const;
  bool is_op(const char* op) const;
  bool skip_name(const char* name);
  bool skip_op(const char* op);
  const Token& expect(TokenType type, const char* what);
  void expect_op(const char* op);
  void expect_name(const char* name);
  [[noreturn]] void fail_here(const std::string& message) const;
  [[noreturn]] void fail_at(Pos pos, const std::string& message) const;
  std::string describe(const Token& t) const;

  // Statements (parse_statement.cpp).
  Body subparse(const std::vector<std::string>& end_tags);
  Body statements_until(const std::vector<std::string>& end_tags, bool drop_end_tag);
  StmtPtr statement();
  StmtPtr parse_for(Pos pos);
  StmtPtr parse_if(Pos pos);
  StmtPtr parse_set(Pos pos);
  StmtPtr parse_macro(Pos pos);
  StmtPtr parse_call_block(Pos pos);
  StmtPtr parse_filter_block(Pos pos);
  StmtPtr parse_with(Pos pos);
  std::shared_ptr<MacroDef> macro_signature(std::string name, bool with_parens);
  void macro_body(MacroDef& def, const char* end_tag);
  Target assign_target(bool with_tuple, bool with_namespace, const char* extra_end);
  Target target_primary();

  // Expressions (parse_expression.cpp).
  ExprPtr tuple_expression(bool with_condexpr, const char* extra_end, bool explicit_parens = false);
  ExprPtr expression(bool with_condexpr = true);
  ExprPtr condexpr();
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  ExprPtr comparison();
  ExprPtr math1();
  ExprPtr concat();
  ExprPtr math2();
  ExprPtr power();
  ExprPtr unary(bool with_filter = true);
  ExprPtr primary();
  ExprPtr postfix(ExprPtr node);
  ExprPtr filter_expr(ExprPtr node);
  ExprPtr subscript(ExprPtr node);
  ExprPtr subscribed();
  ExprPtr test(ExprPtr node);
  Arguments call_arguments();
  FilterCall filter_call(Pos pos);
  std::vector<FilterCall> filter_chain(bool start_inline);
  bool tuple_end(const char* extra_end) const;

  std::vector<Token> tokens_;
  std::string origin_;
  size_t index_ = 0;
  int depth_ = 0;                  // nesting, bounded so hostile input cannot exhaust the stack
  int loop_depth_ = 0;             // for {% break %} / {% continue %}
  bool soft_ = false;              // inside an if: unknown filters and tests fail only when run
  std::vector<std::string> tag_stack_;
  std::vector<std::vector<std::string>> end_tag_stack_;
  std::vector<std::set<std::string>*> macro_names_;  // names referenced by the macro bodies being parsed

  // Filters and tests with no implementation; jinja2 rejects them when compiling, except inside an
  // if or an inline if ("soft"), where only running them fails.
  struct UnknownName {
    Pos pos;
    const char* kind;
    std::string name;
    bool soft;
  };
  std::vector<UnknownName> unknown_;
};

// Counts nesting while parsing (recursion, and the left-deep trees that chains like a + b + c or
// x|f|g build); too deep throws Error at the current token. Undone when the guard goes.
class DepthGuard {
 public:
  explicit DepthGuard(Parser& p, int levels = 1);
  ~DepthGuard() { parser_.depth_ -= added_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  void deepen();

 private:
  Parser& parser_;
  int added_ = 0;
};

}  // namespace tunekit::jinja
