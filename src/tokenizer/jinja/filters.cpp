// The filter table. jinja2 filters that chat templates have no use for (HTML and pretty-printing
// helpers) are known by name, so a template that mentions them parses as it does in jinja2, and
// fail with a clear message if they run.
#include "tokenizer/jinja/filter_table.h"

namespace tunekit::jinja {
namespace {

const char* const kUnsupportedFilters[] = {"filesizeformat", "format",  "groupby",  "pprint",   "random",  "striptags",
                                           "truncate",       "urlencode", "urlize", "wordwrap", "xmlattr"};

Value unsupported_filter(Interpreter&, const Value&, CallArgs&) { eval_fail("this filter is not supported by tunekit"); }

const FilterTable& filter_table() {
  static const FilterTable table = [] {
    FilterTable t;
    add_text_filters(t);
    add_sequence_filters(t);
    for (const char* name : kUnsupportedFilters) t[name] = unsupported_filter;
    return t;
  }();
  return table;
}

}  // namespace

bool has_filter(const std::string& name) { return filter_table().count(name) != 0; }

Value apply_filter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args) {
  auto it = filter_table().find(name);
  if (it == filter_table().end()) eval_fail("no filter named '", name, "'");
  if (it->second == unsupported_filter) eval_fail("the '", name, "' filter is not supported by tunekit");
  return it->second(in, subject, args);
}

}  // namespace tunekit::jinja
