// Python's arithmetic, comparison and membership on template values, with its errors: int + str is
// a TypeError, undefined operands raise the undefined's message, 1 / 0 is a ZeroDivisionError.
// Integers are 64-bit here (Python's are unbounded): an overflow is an error, not a wrong result.
#pragma once
#include "tokenizer/jinja/value.h"

namespace tunekit::jinja {

enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

Value binary(BinaryOp op, const Value& a, const Value& b, size_t max_string_bytes);
Value negate(const Value& v);
Value unary_plus(const Value& v);
bool compare(CompareOp op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);  // item in container
int order(const Value& a, const Value& b);                  // -1, 0, 1 for sorting; TypeError if unordered

// Items of an iterable as a for loop sees them: list/tuple items, str characters, dict keys,
// nothing for undefined, what is left of an iterator. TypeError for anything else.
ValueList iterate(const Value& v);
size_t length(const Value& v);  // len(); TypeError where Python has none

}  // namespace tunekit::jinja
