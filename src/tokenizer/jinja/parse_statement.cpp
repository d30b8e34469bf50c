// Statements ({% ... %} tags), as jinja2's Parser.subparse / parse_statement and the loopcontrols
// extension, plus transformers' {% generation %} block.
#include <algorithm>

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/scopes.h"

namespace tunekit::jinja {
namespace {

template <class Node>
StmtPtr make_stmt(Pos pos, Node node) {
  auto s = std::make_unique<Stmt>();
  s->pos = pos;
  s->node = std::move(node);
  return s;
}

std::string quoted_list(const std::vector<std::string>& tags) {
  std::string out;
  for (size_t i = 0; i < tags.size(); ++i) out += (i ? " or '" : "'") + tags[i] + "'";
  return out;
}

// Restores a parser flag when a nested construct ends.
template <class T>
class Scoped {
 public:
  Scoped(T& ref, T value) : ref_(ref), saved_(ref) { ref_ = value; }
  ~Scoped() { ref_ = saved_; }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;

 private:
  T& ref_;
  T saved_;
};

}  // namespace

Template parse_template(const std::string& source, const std::string& origin) {
  Template t;
  t.origin = origin;
  t.body = Parser(tokenize(source, origin), origin).parse_all();
  resolve_scopes(t);
  return t;
}

Body Parser::parse_all() {
  Body body = subparse({});
  for (const UnknownName& u : unknown_)
    if (!u.soft) fail_at(u.pos, std::string("no ") + u.kind + " named '" + u.name + "'");
  return body;
}

Body Parser::subparse(const std::vector<std::string>& end_tags) {
  if (!end_tags.empty()) end_tag_stack_.push_back(end_tags);
  Body body;
  while (current().type != TokenType::Eof) {
    const Token& t = current();
    Pos pos = t.pos;
    if (t.type == TokenType::Data) {
      body.push_back(make_stmt(pos, TextStmt{advance().text}));
    } else if (t.type == TokenType::VariableBegin) {
      advance();
      body.push_back(make_stmt(pos, OutputStmt{tuple_expression(true, nullptr)}));
      expect(TokenType::VariableEnd, "'end of print statement'");
    } else if (t.type == TokenType::BlockBegin) {
      advance();
      if (current().type == TokenType::Name &&
          std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end()) {
        end_tag_stack_.pop_back();
        return body;
      }
      body.push_back(statement());
      expect(TokenType::BlockEnd, "'end of statement block'");
    } else {
      fail_here("unexpected '" + describe(t) + "'");
    }
  }
  if (!end_tags.empty()) end_tag_stack_.pop_back();
  return body;
}

Body Parser::statements_until(const std::vector<std::string>& end_tags, bool drop_end_tag) {
  skip_op(":");
  expect(TokenType::BlockEnd, "'end of statement block'");
  Body body = subparse(end_tags);
  if (current().type == TokenType::Eof) {
    std::string message = "unexpected end of template; jinja was looking for " + quoted_list(end_tags);
    if (!tag_stack_.empty()) message += "; the innermost block that needs to be closed is '" + tag_stack_.back() + "'";
    fail_here(message);
  }
  if (drop_end_tag) advance();
  return body;
}

StmtPtr Parser::statement() {
  DepthGuard guard(*this);
  if (current().type != TokenType::Name) fail_here("tag name expected");
  Pos pos = current().pos;
  std::string tag = current().text;
  tag_stack_.push_back(tag);
  StmtPtr result;
  if (tag == "for") {
    result = parse_for(pos);
  } else if (tag == "if") {
    result = parse_if(pos);
  } else if (tag == "set") {
    result = parse_set(pos);
  } else if (tag == "macro") {
    result = parse_macro(pos);
  } else if (tag == "call") {
    result = parse_call_block(pos);
  } else if (tag == "filter") {
    result = parse_filter_block(pos);
  } else if (tag == "with") {
    result = parse_with(pos);
  } else if (tag == "print") {
    advance();
    std::vector<ExprPtr> items;
    while (current().type != TokenType::BlockEnd) {
      if (!items.empty()) expect_op(",");
      items.push_back(expression());
    }
    ExprPtr value = items.size() == 1 ? std::move(items[0]) : make_expr(pos, ConcatExpr{std::move(items)});
    result = make_stmt(pos, OutputStmt{std::move(value)});
  } else if (tag == "break" || tag == "continue") {
    advance();
    if (loop_depth_ == 0) fail_at(pos, "'" + tag + "' outside loop");
    result = make_stmt(pos, LoopControlStmt{tag == "break"});
  } else if (tag == "generation") {
    advance();
    result = make_stmt(pos, ScopeStmt{statements_until({"endgeneration"}, true), {}});
  } else if (tag == "block" || tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
             tag == "autoescape") {
    fail_at(pos, "'" + tag + "' is not supported: chat templates are rendered on their own, without a loader");
  } else {
    std::string message = "encountered unknown tag '" + tag + "'";
    if (!end_tag_stack_.empty()) message += "; jinja was looking for " + quoted_list(end_tag_stack_.back());
    tag_stack_.pop_back();
    if (!tag_stack_.empty()) message += "; the innermost block that needs to be closed is '" + tag_stack_.back() + "'";
    fail_at(pos, message);
  }
  tag_stack_.pop_back();
  return result;
}

StmtPtr Parser::parse_for(Pos pos) {
  advance();
  ForStmt node;
  node.target = assign_target(true, false, "in");
  expect_name("in");
  node.iterable = tuple_expression(false, "recursive");
  Scoped<bool> not_soft(soft_, false);
  if (skip_name("if")) node.filter = expression();
  if (is_name("recursive")) fail_here("recursive for loops are not supported");
  {
    Scoped<int> in_loop(loop_depth_, loop_depth_ + 1);
    node.body = statements_until({"endfor", "else"}, false);
  }
  if (advance().text == "else") node.else_body = statements_until({"endfor"}, true);
  return make_stmt(pos, std::move(node));
}

StmtPtr Parser::parse_if(Pos pos) {
  advance();
  IfStmt node;
  Scoped<bool> soft(soft_, true);
  while (true) {
    ExprPtr test = tuple_expression(false, nullptr);
    Body body = statements_until({"elif", "else", "endif"}, false);
    node.branches.emplace_back(std::move(test), std::move(body));
    std::string tag = advance().text;
    if (tag == "elif") continue;
    if (tag == "else") node.else_body = statements_until({"endif"}, true);
    break;
  }
  return make_stmt(pos, std::move(node));
}

StmtPtr Parser::parse_set(Pos pos) {
  advance();
  Target target = assign_target(true, true, nullptr);
  if (skip_op("=")) return make_stmt(pos, SetStmt{std::move(target), tuple_expression(true, nullptr)});
  SetBlockStmt node{std::move(target), filter_chain(false), {}, {}};
  Scoped<bool> not_soft(soft_, false);
  node.body = statements_until({"endset"}, true);
  return make_stmt(pos, std::move(node));
}

std::shared_ptr<MacroDef> Parser::macro_signature(std::string name, bool with_parens) {
  auto def = std::make_shared<MacroDef>();
  def->name = std::move(name);
  if (!with_parens) return def;
  expect_op("(");
  while (!is_op(")")) {
    if (!def->params.empty()) expect_op(",");
    def->params.push_back(expect(TokenType::Name, "a parameter name").text);
    if (skip_op("=")) {
      def->defaults.push_back(expression());
    } else if (!def->defaults.empty()) {
      fail_here("non-default argument follows default argument");
    }
  }
  expect_op(")");
  return def;
}

void Parser::macro_body(MacroDef& def, const char* end_tag) {
  std::set<std::string> names;
  macro_names_.push_back(&names);
  {
    Scoped<int> no_loop(loop_depth_, 0);
    Scoped<bool> not_soft(soft_, false);
    def.body = statements_until({end_tag}, true);
  }
  macro_names_.pop_back();
  def.uses_caller = names.count("caller") != 0;
  def.uses_varargs = names.count("varargs") != 0;
  def.uses_kwargs = names.count("kwargs") != 0;
}

StmtPtr Parser::parse_macro(Pos pos) {
  advance();
  auto def = macro_signature(expect(TokenType::Name, "a macro name").text, true);
  macro_body(*def, "endmacro");
  return make_stmt(pos, MacroStmt{std::move(def)});
}

StmtPtr Parser::parse_call_block(Pos pos) {
  advance();
  auto def = macro_signature("caller", is_op("("));
  ExprPtr call = expression();
  if (!std::holds_alternative<CallExpr>(call->node)) fail_at(pos, "expected a call after {% call %}");
  macro_body(*def, "endcall");
  return make_stmt(pos, CallBlockStmt{std::move(def), std::move(call)});
}

StmtPtr Parser::parse_filter_block(Pos pos) {
  advance();
  FilterBlockStmt node{filter_chain(true), {}, {}};
  Scoped<bool> not_soft(soft_, false);
  node.body = statements_until({"endfilter"}, true);
  return make_stmt(pos, std::move(node));
}

StmtPtr Parser::parse_with(Pos pos) {
  advance();
  WithStmt node;
  while (current().type != TokenType::BlockEnd) {
    if (!node.assignments.empty()) expect_op(",");
    Target target = assign_target(true, false, nullptr);
    expect_op("=");
    node.assignments.emplace_back(std::move(target), expression());
  }
  Scoped<bool> not_soft(soft_, false);
  node.body = statements_until({"endwith"}, true);
  return make_stmt(pos, std::move(node));
}

Target Parser::assign_target(bool with_tuple, bool with_namespace, const char* extra_end) {
  if (with_namespace && current().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == ".") {
    Target t;
    t.name = advance().text;
    advance();
    t.attribute = expect(TokenType::Name, "an attribute name").text;
    return t;
  }
  if (!with_tuple) return target_primary();
  Target tuple;
  tuple.is_tuple = true;
  bool has_comma = false;
  while (true) {
    if (!tuple.items.empty()) expect_op(",");
    if (tuple_end(extra_end)) break;
    tuple.items.push_back(target_primary());
    if (!is_op(",")) break;
    has_comma = true;
  }
  if (tuple.items.empty()) fail_here("expected an assignment target, got '" + describe(current()) + "'");
  if (!has_comma) return std::move(tuple.items[0]);
  return tuple;
}

Target Parser::target_primary() {
  DepthGuard guard(*this);
  if (skip_op("(")) {
    Target inner = assign_target(true, false, nullptr);
    expect_op(")");
    return inner;
  }
  const Token& t = current();
  static const char* const constants[] = {"true", "false", "True", "False", "none", "None"};
  bool constant = std::find_if(std::begin(constants), std::end(constants), [&](const char* c) { return t.text == c; }) !=
                  std::end(constants);
  if (t.type != TokenType::Name || constant) fail_here("can't assign to '" + describe(t) + "'");
  Target target;
  target.name = advance().text;
  return target;
}

}  // namespace tunekit::jinja
