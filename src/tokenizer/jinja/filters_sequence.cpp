// Filters over sequences and mappings. Like jinja2, map/select/reject/selectattr/rejectattr/unique/
// batch/slice/items return one-shot generators (tojson refuses them; |list materialises them).
#include <algorithm>
#include <optional>

#include "tokenizer/jinja/filter_table.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"

namespace tunekit::jinja {
namespace {

// jinja2's generator filters are Python generator functions: nothing in them runs until something
// consumes them. Here they run at once, but an error on the way is kept in the iterator and raised
// when the iterator is consumed that far, as Python would raise it (or never, if nobody looks).
template <class Produce>
Value generator(Produce&& produce) {
  ValueList items;
  std::optional<std::string> error;
  try {
    produce(items);
  } catch (const EvalError& e) {
    error = e.what();
  }
  Value v = Value::iterator(std::move(items), "generator");
  v.as_iterator().error = std::move(error);
  return v;
}

// jinja2's ignore_case postprocessing of sort/unique/min/max keys.
Value fold_case(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value(text::lower(v.as_string())) : v;
}

Value filter_length(Interpreter&, const Value& v, CallArgs& args) {
  Params p("length", args, {});
  return Value(static_cast<int64_t>(length(v)));
}

Value filter_first(Interpreter&, const Value& v, CallArgs& args) {
  Params p("first", args, {});
  if (v.is_iterator()) {
    if (std::optional<Value> item = v.as_iterator().pull()) return *item;
  } else {
    ValueList items = iterate(v);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value filter_last(Interpreter&, const Value& v, CallArgs& args) {
  Params p("last", args, {});
  if (v.is_iterator()) eval_fail("'", v.type_name(), "' object is not reversible");
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value filter_join(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("join", args, {"d", "attribute"});
  std::string separator = to_str(p.get_or(0, Value("")));
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += separator;
    first = false;
    out += to_str(p.has(1) && !p.get(1).is_none() ? get_path(in, item, p.get(1)) : item);
    in.check_size(out.size());
  }
  return Value(std::move(out));
}

Value filter_list(Interpreter&, const Value& v, CallArgs& args) {
  Params p("list", args, {});
  return Value::list(iterate(v));
}

Value filter_items(Interpreter&, const Value& v, CallArgs& args) {
  Params p("items", args, {});
  return generator([&](ValueList& pairs) {
    if (v.is_undefined()) return;
    if (!v.is_dict()) eval_fail("Can only get item pairs from a mapping.");
    for (const auto& [key, value] : v.as_dict().entries()) pairs.push_back(Value::tuple({key, value}));
  });
}

void map_items(Interpreter& in, const Value& v, CallArgs& args, ValueList& out) {
  if (!truthy(v)) return;
  if (args.positional.empty()) {
    Value attribute, fallback = Value::none();
    for (auto& [name, value] : args.keywords) {
      if (name == "attribute") attribute = value;
      else if (name == "default") fallback = value;
      else eval_fail("Unexpected keyword argument '", name, "'");
    }
    if (attribute.is_undefined()) eval_fail("map requires a filter argument");
    for (const Value& item : iterate(v)) {
      Value mapped = get_path(in, item, attribute);
      out.push_back(mapped.is_undefined() && !fallback.is_none() ? fallback : mapped);
    }
    return;
  }
  std::string filter_name = to_str(args.positional[0]);
  CallArgs rest{ValueList(args.positional.begin() + 1, args.positional.end()), args.keywords};
  if (!has_filter(filter_name)) eval_fail("no filter named '", filter_name, "'");
  for (const Value& item : iterate(v)) out.push_back(in.filter(filter_name, item, rest));
}

Value filter_map(Interpreter& in, const Value& v, CallArgs& args) {
  return generator([&](ValueList& out) { map_items(in, v, args, out); });
}

// select / reject / selectattr / rejectattr: keep items whose test (or truthiness) is `keep`.
void select_into(Interpreter& in, const Value& v, CallArgs& args, bool keep, bool by_attribute, ValueList& out) {
  if (!truthy(v)) return;
  size_t at = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) eval_fail("Missing parameter for attribute name");
    attribute = args.positional[at++];
  }
  std::optional<std::string> test_name;
  if (at < args.positional.size()) test_name = to_str(args.positional[at++]);
  CallArgs test_args{ValueList(args.positional.begin() + static_cast<std::ptrdiff_t>(at), args.positional.end()),
                     args.keywords};
  if (test_name && !has_test(*test_name)) eval_fail("no test named '", *test_name, "'");
  for (const Value& item : iterate(v)) {
    Value subject = by_attribute ? get_path(in, item, attribute) : item;
    bool passed = test_name ? in.test(*test_name, subject, test_args) : truthy(subject);
    if (passed == keep) out.push_back(item);
  }
}

Value select_items(Interpreter& in, const Value& v, CallArgs& args, bool keep, bool by_attribute) {
  return generator([&](ValueList& out) { select_into(in, v, args, keep, by_attribute, out); });
}

Value filter_select(Interpreter& in, const Value& v, CallArgs& args) { return select_items(in, v, args, true, false); }
Value filter_reject(Interpreter& in, const Value& v, CallArgs& args) { return select_items(in, v, args, false, false); }
Value filter_selectattr(Interpreter& in, const Value& v, CallArgs& args) { return select_items(in, v, args, true, true); }
Value filter_rejectattr(Interpreter& in, const Value& v, CallArgs& args) { return select_items(in, v, args, false, true); }

Value sort_key(Interpreter& in, const Value& item, const Value& attribute, bool case_sensitive) {
  if (attribute.is_none() || attribute.is_undefined()) return fold_case(item, case_sensitive);
  if (!attribute.is_string()) return fold_case(in.get_item(item, attribute), case_sensitive);
  ValueList parts;  // "a,b" sorts by the tuple (a, b)
  for (const std::string& name : text::split(attribute.as_string(), std::string(","), -1, false))
    parts.push_back(fold_case(get_path(in, item, Value(name)), case_sensitive));
  return parts.size() == 1 ? parts[0] : Value::tuple(std::move(parts));
}

Value filter_unique(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("unique", args, {"case_sensitive", "attribute"});
  bool case_sensitive = truthy(p.get_or(0, Value(false)));
  Value attribute = p.get_or(1, Value::none());
  return generator([&](ValueList& out) {
    ValueList seen;
    for (const Value& item : iterate(v)) {
      Value key = attribute.is_none() ? fold_case(item, case_sensitive) : fold_case(get_path(in, item, attribute), case_sensitive);
      if (!is_hashable(key)) eval_fail("unhashable type: '", key.type_name(), "'");
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
  });
}

ValueList sorted_by(ValueList items, const ValueList& keys, bool reverse) {
  std::vector<size_t> order_of(items.size());
  for (size_t i = 0; i < order_of.size(); ++i) order_of[i] = i;
  std::stable_sort(order_of.begin(), order_of.end(), [&](size_t a, size_t b) {
    return reverse ? order(keys[b], keys[a]) < 0 : order(keys[a], keys[b]) < 0;
  });
  ValueList out;
  for (size_t i : order_of) out.push_back(std::move(items[i]));
  return out;
}

Value filter_sort(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("sort", args, {"reverse", "case_sensitive", "attribute"});
  bool case_sensitive = truthy(p.get_or(1, Value(false)));
  ValueList items = iterate(v), keys;
  for (const Value& item : items) keys.push_back(sort_key(in, item, p.get_or(2, Value::none()), case_sensitive));
  return Value::list(sorted_by(std::move(items), keys, truthy(p.get_or(0, Value(false)))));
}

Value filter_dictsort(Interpreter&, const Value& v, CallArgs& args) {
  Params p("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) eval_fail("dictsort expects a mapping, not ", v.type_name());
  std::string by = p.get_string(1).value_or("key");
  if (by != "key" && by != "value") eval_fail("You can only sort by either \"key\" or \"value\"");
  ValueList pairs, keys;
  for (const auto& [key, value] : v.as_dict().entries()) {
    pairs.push_back(Value::tuple({key, value}));
    keys.push_back(fold_case(by == "key" ? key : value, truthy(p.get_or(0, Value(false)))));
  }
  return Value::list(sorted_by(std::move(pairs), keys, truthy(p.get_or(2, Value(false)))));
}

Value filter_reverse(Interpreter&, const Value& v, CallArgs& args) {
  Params p("reverse", args, {});
  if (v.is_string()) {
    std::vector<std::string> chars = text::chars(v.as_string());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return Value(std::move(out), v.is_markup());
  }
  if (v.is_iterator()) {  // not reversible: jinja2 reverses a list of it instead
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (!(v.is_list() || v.is_dict() || v.is_undefined())) eval_fail("argument must be iterable");
  ValueList items = iterate(v);
  std::reverse(items.begin(), items.end());
  const char* type = v.is_dict()                      ? "dict_reversekeyiterator"
                     : v.is_tuple() || v.is_undefined() ? "reversed"
                                                        : "list_reverseiterator";
  return Value::iterator(std::move(items), type);
}

Value filter_sum(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("sum", args, {"attribute", "start"});
  Value total = p.get_or(1, Value(int64_t{0}));
  Value attribute = p.get_or(0, Value::none());
  for (const Value& item : iterate(v))
    total = binary(BinaryOp::Add, total, attribute.is_none() ? item : get_path(in, item, attribute),
                   in.options().max_output_bytes);
  return total;
}

Value min_or_max(Interpreter& in, const Value& v, CallArgs& args, bool want_max) {
  Params p(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  bool case_sensitive = truthy(p.get_or(0, Value(false)));
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(in, items[0], p.get_or(1, Value::none()), case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(in, items[i], p.get_or(1, Value::none()), case_sensitive);
    if (want_max ? order(key, best_key) > 0 : order(key, best_key) < 0) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Value filter_min(Interpreter& in, const Value& v, CallArgs& args) { return min_or_max(in, v, args, false); }
Value filter_max(Interpreter& in, const Value& v, CallArgs& args) { return min_or_max(in, v, args, true); }

Value filter_batch(Interpreter& in, const Value& v, CallArgs& args) {
  Params p("batch", args, {"linecount", "fill_with"}, 1);
  return generator([&](ValueList& batches) {
    int64_t size = p.get_int(0, 1);
    if (size <= 0) eval_fail("batch(): linecount must be positive");
    in.check_size(static_cast<size_t>(size));
    ValueList current;
    for (const Value& item : iterate(v)) {
      if (static_cast<int64_t>(current.size()) == size) batches.push_back(Value::list(std::exchange(current, {})));
      current.push_back(item);
    }
    if (!current.empty()) {
      if (p.has(1) && !p.get(1).is_none())
        while (static_cast<int64_t>(current.size()) < size) current.push_back(p.get(1));
      batches.push_back(Value::list(std::move(current)));
    }
  });
}

Value filter_slice(Interpreter&, const Value& v, CallArgs& args) {
  Params p("slice", args, {"slices", "fill_with"}, 1);
  return generator([&](ValueList& out) {
    int64_t slices = p.get_int(0, 1);
    if (slices <= 0 || slices > 100000) eval_fail("slice(): slices must be between 1 and 100000");
    ValueList items = iterate(v);
    auto n = static_cast<int64_t>(items.size());
    int64_t per_slice = n / slices, with_extra = n % slices, offset = 0;
    for (int64_t k = 0; k < slices; ++k) {
      int64_t start = offset + k * per_slice;
      if (k < with_extra) ++offset;
      int64_t end = offset + (k + 1) * per_slice;
      ValueList part(items.begin() + start, items.begin() + end);
      if (p.has(1) && !p.get(1).is_none() && k >= with_extra) part.push_back(p.get(1));
      out.push_back(Value::list(std::move(part)));
    }
  });
}

}  // namespace

void add_sequence_filters(FilterTable& table) {
  table["length"] = filter_length;
  table["count"] = filter_length;
  table["first"] = filter_first;
  table["last"] = filter_last;
  table["join"] = filter_join;
  table["list"] = filter_list;
  table["items"] = filter_items;
  table["map"] = filter_map;
  table["select"] = filter_select;
  table["reject"] = filter_reject;
  table["selectattr"] = filter_selectattr;
  table["rejectattr"] = filter_rejectattr;
  table["unique"] = filter_unique;
  table["sort"] = filter_sort;
  table["dictsort"] = filter_dictsort;
  table["reverse"] = filter_reverse;
  table["sum"] = filter_sum;
  table["min"] = filter_min;
  table["max"] = filter_max;
  table["batch"] = filter_batch;
  table["slice"] = filter_slice;
}

}  // namespace tunekit::jinja
