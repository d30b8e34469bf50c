// How the filter files register their filters with the table in filters.cpp.
#pragma once
#include <map>
#include <string>

#include "tokenizer/jinja/builtins.h"

namespace tunekit::jinja {

using FilterFn = Value (*)(Interpreter& in, const Value& subject, CallArgs& args);
using FilterTable = std::map<std::string, FilterFn>;

void add_text_filters(FilterTable& table);      // filters_text.cpp
void add_sequence_filters(FilterTable& table);  // filters_sequence.cpp

}  // namespace tunekit::jinja
