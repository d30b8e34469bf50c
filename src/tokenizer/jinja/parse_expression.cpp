// Expressions, as jinja2's Parser.parse_expression and the functions it calls.
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/parser.h"

namespace tunekit::jinja {
namespace {

constexpr int kMaxNesting = 256;

bool is_compare_op(const Token& t, CompareOp* op) {
  if (t.type != TokenType::Operator) return false;
  static const std::pair<const char*, CompareOp> ops[] = {{"==", CompareOp::Eq}, {"!=", CompareOp::Ne},
                                                          {"<", CompareOp::Lt},  {"<=", CompareOp::Le},
                                                          {">", CompareOp::Gt},  {">=", CompareOp::Ge}};
  for (const auto& [text, value] : ops)
    if (t.text == text) {
      *op = value;
      return true;
    }
  return false;
}

}  // namespace

DepthGuard::DepthGuard(Parser& p, int levels) : parser_(p) {
  for (int i = 0; i < levels; ++i) deepen();
}

void DepthGuard::deepen() {
  if (parser_.depth_ + 1 > kMaxNesting)
    parser_.fail_here("template nesting is deeper than " + std::to_string(kMaxNesting) + " levels");
  ++parser_.depth_;
  ++added_;
}

const Token& Parser::peek(size_t ahead) const { return tokens_[std::min(index_ + ahead, tokens_.size() - 1)]; }

const Token& Parser::advance() {
  const Token& t = tokens_[index_];
  if (index_ + 1 < tokens_.size()) ++index_;
  return t;
}

bool Parser::is_name(const char* name) const { return current().type == TokenType::Name && current().text == name; }
bool Parser::is_op(const char* op) const { return current().type == TokenType::Operator && current().text == op; }

bool Parser::skip_name(const char* name) {
  if (!is_name(name)) return false;
  advance();
  return true;
}

bool Parser::skip_op(const char* op) {
  if (!is_op(op)) return false;
  advance();
  return true;
}

std::string Parser::describe(const Token& t) const {
  switch (t.type) {
    case TokenType::Data: return "template data";
    case TokenType::VariableBegin: return "begin of print statement";
    case TokenType::VariableEnd: return "end of print statement";
    case TokenType::BlockBegin: return "begin of statement block";
    case TokenType::BlockEnd: return "end of statement block";
    case TokenType::String: return "string";
    case TokenType::Integer: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Eof: return "end of template";
    default: return t.text;
  }
}

void Parser::fail_at(Pos pos, const std::string& message) const {
  fail(origin_, ":", pos.line, ":", pos.column, ": ", message);
}

void Parser::fail_here(const std::string& message) const { fail_at(current().pos, message); }

const Token& Parser::expect(TokenType type, const char* what) {
  if (current().type != type) {
    if (current().type == TokenType::Eof) fail_here(std::string("unexpected end of template, expected ") + what);
    fail_here(std::string("expected ") + what + ", got '" + describe(current()) + "'");
  }
  return advance();
}

void Parser::expect_op(const char* op) {
  if (!is_op(op)) fail_here(std::string("expected '") + op + "', got '" + describe(current()) + "'");
  advance();
}

void Parser::expect_name(const char* name) {
  if (!is_name(name)) fail_here(std::string("expected '") + name + "', got '" + describe(current()) + "'");
  advance();
}

bool Parser::tuple_end(const char* extra_end) const {
  TokenType t = current().type;
  if (t == TokenType::VariableEnd || t == TokenType::BlockEnd || is_op(")")) return true;
  return extra_end && is_name(extra_end);
}

ExprPtr Parser::tuple_expression(bool with_condexpr, const char* extra_end, bool explicit_parens) {
  Pos pos = current().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (tuple_end(extra_end)) break;
    items.push_back(expression(with_condexpr));
    if (!is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) fail_here("expected an expression, got '" + describe(current()) + "'");
  }
  return make_expr(pos, ListExpr{std::move(items), true});
}

ExprPtr Parser::expression(bool with_condexpr) {
  DepthGuard guard(*this);
  return with_condexpr ? condexpr() : or_expr();
}

ExprPtr Parser::condexpr() {
  Pos pos = current().pos;
  size_t first_unknown = unknown_.size();
  ExprPtr expr = or_expr();
  while (is_name("if")) {
    advance();
    bool was_soft = soft_;
    soft_ = true;  // jinja2 compiles all three parts of an inline if in a "soft" frame
    for (size_t i = first_unknown; i < unknown_.size(); ++i) unknown_[i].soft = true;
    ExprPtr test = or_expr();
    ExprPtr otherwise = skip_name("else") ? condexpr() : nullptr;
    soft_ = was_soft;
    expr = make_expr(pos, CondExpr{std::move(test), std::move(expr), std::move(otherwise)});
    pos = current().pos;
  }
  return expr;
}

ExprPtr Parser::or_expr() {
  Pos pos = current().pos;
  ExprPtr left = and_expr();
  DepthGuard chain(*this, 0);
  while (skip_name("or")) {
    chain.deepen();
    left = make_expr(pos, LogicExpr{false, std::move(left), and_expr()});
  }
  return left;
}

ExprPtr Parser::and_expr() {
  Pos pos = current().pos;
  ExprPtr left = not_expr();
  DepthGuard chain(*this, 0);
  while (skip_name("and")) {
    chain.deepen();
    left = make_expr(pos, LogicExpr{true, std::move(left), not_expr()});
  }
  return left;
}

ExprPtr Parser::not_expr() {
  if (!is_name("not")) return comparison();
  DepthGuard guard(*this);
  Pos pos = advance().pos;
  return make_expr(pos, NotExpr{not_expr()});
}

ExprPtr Parser::comparison() {
  Pos pos = current().pos;
  ExprPtr first = math1();
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  while (true) {
    CompareOp op;
    if (is_compare_op(current(), &op)) {
      advance();
    } else if (skip_name("in")) {
      op = CompareOp::In;
    } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
      advance();
      advance();
      op = CompareOp::NotIn;
    } else {
      break;
    }
    rest.emplace_back(op, math1());
  }
  if (rest.empty()) return first;
  return make_expr(pos, CompareExpr{std::move(first), std::move(rest)});
}

ExprPtr Parser::math1() {
  Pos pos = current().pos;
  ExprPtr left = concat();
  DepthGuard chain(*this, 0);
  while (is_op("+") || is_op("-")) {
    chain.deepen();
    BinaryOp op = advance().text == "+" ? BinaryOp::Add : BinaryOp::Sub;
    left = make_expr(pos, BinaryExpr{op, std::move(left), concat()});
  }
  return left;
}

ExprPtr Parser::concat() {
  Pos pos = current().pos;
  std::vector<ExprPtr> items;
  items.push_back(math2());
  while (skip_op("~")) items.push_back(math2());
  if (items.size() == 1) return std::move(items[0]);
  return make_expr(pos, ConcatExpr{std::move(items)});
}

ExprPtr Parser::math2() {
  Pos pos = current().pos;
  ExprPtr left = power();
  DepthGuard chain(*this, 0);
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    chain.deepen();
    const std::string& text = advance().text;
    BinaryOp op = text == "*" ? BinaryOp::Mul : text == "/" ? BinaryOp::Div : text == "//" ? BinaryOp::FloorDiv : BinaryOp::Mod;
    left = make_expr(pos, BinaryExpr{op, std::move(left), power()});
  }
  return left;
}

ExprPtr Parser::power() {
  Pos pos = current().pos;
  ExprPtr left = unary();
  DepthGuard chain(*this, 0);
  while (skip_op("**")) {
    chain.deepen();
    left = make_expr(pos, BinaryExpr{BinaryOp::Pow, std::move(left), unary()});
  }
  return left;
}

ExprPtr Parser::unary(bool with_filter) {
  DepthGuard guard(*this);
  Pos pos = current().pos;
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    bool plus = advance().text == "+";
    node = make_expr(pos, NegExpr{unary(false), plus});
  } else {
    node = primary();
  }
  node = postfix(std::move(node));
  if (with_filter) node = filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::primary() {
  const Token& t = current();
  Pos pos = t.pos;
  switch (t.type) {
    case TokenType::Name: {
      std::string name = advance().text;
      if (name == "true" || name == "True") return make_expr(pos, Literal{Value(true)});
      if (name == "false" || name == "False") return make_expr(pos, Literal{Value(false)});
      if (name == "none" || name == "None") return make_expr(pos, Literal{Value::none()});
      for (auto* names : macro_names_) names->insert(name);
      return make_expr(pos, Name{name});
    }
    case TokenType::String: {
      std::string s;
      while (current().type == TokenType::String) s += advance().text;
      return make_expr(pos, Literal{Value(std::move(s))});
    }
    case TokenType::Integer: return make_expr(pos, Literal{Value(advance().integer)});
    case TokenType::Float: return make_expr(pos, Literal{Value(advance().number)});
    default: break;
  }
  if (skip_op("(")) {
    ExprPtr inner = tuple_expression(true, nullptr, true);
    expect_op(")");
    return inner;
  }
  if (skip_op("[")) {
    std::vector<ExprPtr> items;
    while (!is_op("]")) {
      if (!items.empty()) expect_op(",");
      if (is_op("]")) break;
      items.push_back(expression());
    }
    expect_op("]");
    return make_expr(pos, ListExpr{std::move(items), false});
  }
  if (skip_op("{")) {
    std::vector<std::pair<ExprPtr, ExprPtr>> items;
    while (!is_op("}")) {
      if (!items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = expression();
      expect_op(":");
      items.emplace_back(std::move(key), expression());
    }
    expect_op("}");
    return make_expr(pos, DictExpr{std::move(items)});
  }
  if (t.type == TokenType::Eof) fail_here("unexpected end of template");
  fail_here("unexpected '" + describe(t) + "'");
}

ExprPtr Parser::postfix(ExprPtr node) {
  DepthGuard chain(*this, 0);
  while (true) {
    if (is_op(".") || is_op("[")) {
      chain.deepen();
      node = subscript(std::move(node));
    } else if (is_op("(")) {
      chain.deepen();
      Pos pos = node->pos;
      node = make_expr(pos, CallExpr{std::move(node), call_arguments()});
    } else {
      return node;
    }
  }
}

ExprPtr Parser::filter_expr(ExprPtr node) {
  DepthGuard chain(*this, 0);
  while (true) {
    if (is_op("|")) {
      Pos pos = node->pos;
      for (FilterCall& f : filter_chain(false)) {
        chain.deepen();
        node = make_expr(pos, FilterExpr{std::move(node), std::move(f)});
      }
    } else if (is_name("is")) {
      chain.deepen();
      node = test(std::move(node));
    } else if (is_op("(")) {
      chain.deepen();
      Pos pos = node->pos;
      node = make_expr(pos, CallExpr{std::move(node), call_arguments()});
    } else {
      return node;
    }
  }
}

ExprPtr Parser::subscript(ExprPtr node) {
  Pos pos = node->pos;  // errors point at the start of the whole expression
  if (skip_op(".")) {
    const Token& t = current();
    if (t.type == TokenType::Name) return make_expr(pos, GetAttr{std::move(node), advance().text});
    if (t.type != TokenType::Integer) fail_here("expected name or number");
    return make_expr(pos, GetItem{std::move(node), make_expr(t.pos, Literal{Value(advance().integer)})});
  }
  expect_op("[");
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) expect_op(",");
    args.push_back(subscribed());
  }
  expect_op("]");
  if (args.size() != 1) {
    for (const auto& a : args)
      if (std::holds_alternative<SliceExpr>(a->node)) fail_at(a->pos, "a tuple of slices is not supported");
    return make_expr(pos, GetItem{std::move(node), make_expr(pos, ListExpr{std::move(args), true})});
  }
  if (auto* slice = std::get_if<SliceExpr>(&args[0]->node)) {
    slice->object = std::move(node);
    return std::move(args[0]);
  }
  return make_expr(pos, GetItem{std::move(node), std::move(args[0])});
}

// One subscript: an expression or a slice [start]:[stop][:[step]] (returned as a SliceExpr
// without its object).
ExprPtr Parser::subscribed() {
  Pos pos = current().pos;
  SliceExpr slice;
  if (!skip_op(":")) {
    ExprPtr node = expression();
    if (!skip_op(":")) return node;
    slice.start = std::move(node);
  }
  auto at_end = [&] { return is_op("]") || is_op(","); };
  if (!is_op(":") && !at_end()) slice.stop = expression();
  if (skip_op(":") && !at_end()) slice.step = expression();
  return make_expr(pos, std::move(slice));
}

ExprPtr Parser::test(ExprPtr node) {
  Pos pos = advance().pos;  // "is"
  bool negated = skip_name("not");
  std::string name = expect(TokenType::Name, "a test name").text;
  while (skip_op(".")) name += "." + expect(TokenType::Name, "a name").text;
  Arguments args;
  const Token& t = current();
  bool bare_argument = (t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Integer ||
                        t.type == TokenType::Float || is_op("[") || is_op("{")) &&
                       !is_name("else") && !is_name("or") && !is_name("and");
  if (is_op("(")) {
    args = call_arguments();
  } else if (bare_argument) {
    if (is_name("is")) fail_here("you cannot chain multiple tests with is");
    args.positional.push_back(postfix(primary()));
  }
  bool known = has_test(name);
  if (!known) unknown_.push_back({pos, "test", name, soft_});
  ExprPtr result = make_expr(pos, TestExpr{std::move(node), name, std::move(args), known});
  return negated ? make_expr(pos, NotExpr{std::move(result)}) : std::move(result);
}

Arguments Parser::call_arguments() {
  Pos pos = current().pos;
  expect_op("(");
  Arguments args;
  bool require_comma = false;
  auto ensure = [&](bool ok) {
    if (!ok) fail_at(pos, "invalid syntax for function call expression");
  };
  while (!is_op(")")) {
    if (require_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (skip_op("*")) {
      ensure(!args.star_args && !args.star_kwargs);
      args.star_args = expression();
    } else if (skip_op("**")) {
      ensure(!args.star_kwargs);
      args.star_kwargs = expression();
    } else if (current().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
      ensure(!args.star_kwargs);
      std::string key = advance().text;
      advance();
      args.keywords.emplace_back(std::move(key), expression());
    } else {
      ensure(!args.star_args && !args.star_kwargs && args.keywords.empty());
      args.positional.push_back(expression());
    }
    require_comma = true;
  }
  expect_op(")");
  return args;
}

FilterCall Parser::filter_call(Pos pos) {
  FilterCall f;
  f.pos = pos;
  f.name = expect(TokenType::Name, "a filter name").text;
  while (skip_op(".")) f.name += "." + expect(TokenType::Name, "a name").text;
  if (is_op("(")) f.args = call_arguments();
  f.known = has_filter(f.name);
  if (!f.known) unknown_.push_back({pos, "filter", f.name, soft_});
  return f;
}

std::vector<FilterCall> Parser::filter_chain(bool start_inline) {
  std::vector<FilterCall> chain;
  while (start_inline || is_op("|")) {
    Pos pos = start_inline ? current().pos : advance().pos;
    chain.push_back(filter_call(pos));
    start_inline = false;
  }
  return chain;
}

}  // namespace tunekit::jinja
