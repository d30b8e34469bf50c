// jinja2 decides at compile time which scope owns each variable (idtracking.py), and that shows
// in renderings: a name assigned at the top level after a loop is undefined inside the loop, even
// when the context has it; a name assigned in only some branches of an if keeps the outer value in
// the others. This pass repeats that analysis over the parsed template and records, for every
// scope (the template, each loop body and else, macro, call block, with, set block, filter block
// and generation block), the variables it owns and how each starts (the Slots in ast.h).
#pragma once
#include "tokenizer/jinja/ast.h"

namespace tunekit::jinja {

void resolve_scopes(Template& tmpl);

}  // namespace tunekit::jinja
