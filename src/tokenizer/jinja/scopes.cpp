#include "tokenizer/jinja/scopes.h"

#include <functional>
#include <map>
#include <set>

#include "tokenizer/jinja/overloaded.h"

namespace tunekit::jinja {
namespace {

// One scope's symbol table, as jinja2's idtracking.Symbols keeps it.
class Symbols {
 public:
  explicit Symbols(const Symbols* parent) : parent_(parent) {}

  bool has_ref(const std::string& name) const {
    for (const Symbols* s = this; s; s = s->parent_)
      if (s->refs_.count(name)) return true;
    return false;
  }

  void load(const std::string& name) {
    if (!has_ref(name)) refs_[name] = SlotInit::Resolve;
  }

  void store(const std::string& name) {
    stores_.insert(name);
    if (!refs_.count(name)) refs_[name] = parent_ && parent_->has_ref(name) ? SlotInit::Alias : SlotInit::Undefined;
  }

  void declare_parameter(const std::string& name) {
    stores_.insert(name);
    refs_[name] = SlotInit::Parameter;
  }

  // After an if: a name stored in some branches but not all keeps its outer value in the others.
  void branch_update(const std::vector<Symbols>& branches) {
    std::map<std::string, size_t> stored_in;
    for (const Symbols& b : branches)
      for (const std::string& name : b.stores_)
        if (!stores_.count(name)) ++stored_in[name];
    for (const Symbols& b : branches) {
      for (const auto& [name, init] : b.refs_) refs_[name] = init;
      stores_.insert(b.stores_.begin(), b.stores_.end());
    }
    for (const auto& [name, count] : stored_in)
      if (count != branches.size()) refs_[name] = parent_ && parent_->has_ref(name) ? SlotInit::Alias : SlotInit::Resolve;
  }

  Slots slots() const {
    Slots out;
    for (const std::string& name : stores_) out.push_back({name, refs_.at(name)});
    return out;
  }

 private:
  const Symbols* parent_;
  std::map<std::string, SlotInit> refs_;
  std::set<std::string> stores_;
};

void visit_expr(const Expr& e, Symbols& s);

void visit_args(const Arguments& args, Symbols& s) {
  for (const ExprPtr& a : args.positional) visit_expr(*a, s);
  for (const auto& kw : args.keywords) visit_expr(*kw.second, s);
  if (args.star_args) visit_expr(*args.star_args, s);
  if (args.star_kwargs) visit_expr(*args.star_kwargs, s);
}

void visit_optional(const ExprPtr& e, Symbols& s) {
  if (e) visit_expr(*e, s);
}

// Every name an expression reads, in evaluation order.
void visit_expr(const Expr& e, Symbols& s) {
  std::visit(Overloaded{
                 [&](const Literal&) {},
                 [&](const Name& n) { s.load(n.name); },
                 [&](const ListExpr& n) {
                   for (const ExprPtr& item : n.items) visit_expr(*item, s);
                 },
                 [&](const DictExpr& n) {
                   for (const auto& [key, value] : n.items) {
                     visit_expr(*key, s);
                     visit_expr(*value, s);
                   }
                 },
                 [&](const GetAttr& n) { visit_expr(*n.object, s); },
                 [&](const GetItem& n) {
                   visit_expr(*n.object, s);
                   visit_expr(*n.key, s);
                 },
                 [&](const SliceExpr& n) {
                   visit_expr(*n.object, s);
                   visit_optional(n.start, s);
                   visit_optional(n.stop, s);
                   visit_optional(n.step, s);
                 },
                 [&](const CallExpr& n) {
                   visit_expr(*n.callee, s);
                   visit_args(n.args, s);
                 },
                 [&](const FilterExpr& n) {
                   visit_expr(*n.subject, s);
                   visit_args(n.filter.args, s);
                 },
                 [&](const TestExpr& n) {
                   visit_expr(*n.subject, s);
                   visit_args(n.args, s);
                 },
                 [&](const NotExpr& n) { visit_expr(*n.operand, s); },
                 [&](const NegExpr& n) { visit_expr(*n.operand, s); },
                 [&](const BinaryExpr& n) {
                   visit_expr(*n.left, s);
                   visit_expr(*n.right, s);
                 },
                 [&](const LogicExpr& n) {
                   visit_expr(*n.left, s);
                   visit_expr(*n.right, s);
                 },
                 [&](const ConcatExpr& n) {
                   for (const ExprPtr& item : n.items) visit_expr(*item, s);
                 },
                 [&](const CompareExpr& n) {
                   visit_expr(*n.first, s);
                   for (const auto& [op, operand] : n.rest) visit_expr(*operand, s);
                 },
                 [&](const CondExpr& n) {
                   visit_expr(*n.test, s);
                   visit_expr(*n.then_value, s);
                   visit_optional(n.else_value, s);
                 },
             },
             e.node);
}

void store_target(const Target& t, Symbols& s, bool as_parameter) {
  if (!t.attribute.empty()) {
    s.load(t.name);  // ns.attr = ... reads ns
  } else if (t.is_tuple) {
    for (const Target& item : t.items) store_target(item, s, as_parameter);
  } else if (as_parameter) {
    s.declare_parameter(t.name);
  } else {
    s.store(t.name);
  }
}

// A scope's analysis: its own statements first (jinja2's FrameSymbolVisitor), then, with its
// symbols complete, the scopes nested in it (analysed when jinja2's compiler reaches them).
class Analyzer {
 public:
  Slots scope(const Symbols* parent, const std::function<void(Symbols&)>& declare, Body& body) {
    Symbols symbols(parent);
    declare(symbols);
    std::vector<std::function<void()>> nested;
    for (const StmtPtr& stmt : body) visit(*stmt, symbols, symbols, nested);
    for (auto& analyse : nested) analyse();
    return symbols.slots();
  }

 private:
  using Nested = std::vector<std::function<void()>>;

  void visit_body(Body& body, Symbols& s, const Symbols& owner, Nested& nested) {
    for (const StmtPtr& stmt : body) visit(*stmt, s, owner, nested);
  }

  // `s` receives this scope's symbol events (it is a copy inside if branches); `owner` is the
  // scope's final table, the parent of nested scopes.
  void visit(Stmt& stmt, Symbols& s, const Symbols& owner, Nested& nested) {
    std::visit(Overloaded{
                   [&](const TextStmt&) {},
                   [&](const OutputStmt& n) { visit_expr(*n.value, s); },
                   [&](IfStmt& n) { visit_if(n, 0, s, owner, nested); },
                   [&](ForStmt& n) {
                     visit_expr(*n.iterable, s);
                     auto& node = n;
                     nested.push_back([this, &node, &owner] {
                       node.body_slots = scope(
                           &owner,
                           [&](Symbols& b) {
                             b.declare_parameter("loop");
                             store_target(node.target, b, true);
                           },
                           node.body);
                       node.else_slots = scope(&owner, [](Symbols&) {}, node.else_body);
                     });
                   },
                   [&](const SetStmt& n) {
                     visit_expr(*n.value, s);
                     store_target(n.target, s, false);
                   },
                   [&](SetBlockStmt& n) {
                     store_target(n.target, s, false);
                     auto& node = n;
                     nested.push_back([this, &node, &owner] { node.slots = scope(&owner, [](Symbols&) {}, node.body); });
                   },
                   [&](FilterBlockStmt& n) {
                     for (const FilterCall& f : n.filters) visit_args(f.args, s);
                     auto& node = n;
                     nested.push_back([this, &node, &owner] { node.slots = scope(&owner, [](Symbols&) {}, node.body); });
                   },
                   [&](MacroStmt& n) {
                     s.store(n.macro->name);
                     nested.push_back([this, def = n.macro, &owner] { macro(*def, owner); });
                   },
                   [&](CallBlockStmt& n) {
                     visit_expr(*n.call, s);
                     nested.push_back([this, def = n.caller, &owner] { macro(*def, owner); });
                   },
                   [&](WithStmt& n) {
                     for (const auto& assignment : n.assignments) visit_expr(*assignment.second, s);
                     auto& node = n;
                     nested.push_back([this, &node, &owner] {
                       node.slots = scope(
                           &owner,
                           [&](Symbols& w) {
                             for (const auto& assignment : node.assignments) store_target(assignment.first, w, true);
                           },
                           node.body);
                     });
                   },
                   [&](const LoopControlStmt&) {},
                   [&](ScopeStmt& n) {
                     auto& node = n;
                     nested.push_back([this, &node, &owner] { node.slots = scope(&owner, [](Symbols&) {}, node.body); });
                   },
               },
               stmt.node);
  }

  // jinja2 parses {% if a %}..{% elif b %}..{% else %}.. as If(a, body, elif_=[If(b, ..)], else_):
  // three branches (body, the elif chain, else), each analysed on a copy, then merged.
  void visit_if(IfStmt& n, size_t branch, Symbols& s, const Symbols& owner, Nested& nested) {
    visit_expr(*n.branches[branch].first, s);
    Symbols body = s, elifs = s, otherwise = s;
    visit_body(n.branches[branch].second, body, owner, nested);
    if (branch == 0) {
      for (size_t k = 1; k < n.branches.size(); ++k) visit_if(n, k, elifs, owner, nested);
      visit_body(n.else_body, otherwise, owner, nested);
    }
    s.branch_update({body, elifs, otherwise});
  }

  void macro(MacroDef& def, const Symbols& owner) {
    def.slots = scope(
        &owner,
        [&](Symbols& m) {
          for (const std::string& p : def.params) m.declare_parameter(p);
          for (const ExprPtr& d : def.defaults) visit_expr(*d, m);
          if (def.uses_caller) m.declare_parameter("caller");
          if (def.uses_varargs) m.declare_parameter("varargs");
          if (def.uses_kwargs) m.declare_parameter("kwargs");
        },
        def.body);
  }
};

}  // namespace

void resolve_scopes(Template& tmpl) { tmpl.slots = Analyzer().scope(nullptr, [](Symbols&) {}, tmpl.body); }

}  // namespace tunekit::jinja
