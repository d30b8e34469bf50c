// JSON (an array of objects) and JSONL (one object per line): each record's text field(s) become
// one section of a single page, named by its metadata fields (ReadOptions).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/readers.h"
#include "tunekit/error.h"

namespace tunekit::rag {

namespace {

std::string scalar_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The record's text; where ("x.json: record 3", "x.jsonl: line 4") names it in errors.
std::string record_text(const nlohmann::json& record, const std::string& where, const ReadOptions& options) {
  check(record.is_object(), where, ": not a JSON object");
  static const std::vector<std::string> defaults = {"text", "content", "body"};
  std::string text;
  if (options.text_fields.empty()) {
    for (const auto& field : defaults) {
      if (record.contains(field) && !record[field].is_null()) {
        text = scalar_text(record[field]);
        break;
      }
    }
  } else {
    for (const auto& field : options.text_fields) {
      if (!record.contains(field) || record[field].is_null()) continue;
      if (!text.empty()) text += "\n\n";
      text += scalar_text(record[field]);
    }
  }
  if (text.empty()) {
    const auto& fields = options.text_fields.empty() ? defaults : options.text_fields;
    std::string list;
    for (const auto& f : fields) list += (list.empty() ? "\"" : ", \"") + f + "\"";
    fail(where, ": no text field (looked for ", list, "; choose the field with --text-field)");
  }
  return text;
}

std::string record_heading(const nlohmann::json& record, size_t index, const ReadOptions& options) {
  std::string heading;
  for (const auto& field : options.metadata_fields) {
    if (!record.contains(field) || record[field].is_null() || record[field].is_structured()) continue;
    if (!heading.empty()) heading += " | ";
    heading += scalar_text(record[field]);
  }
  return heading.empty() ? "record " + std::to_string(index + 1) : heading;
}

}  // namespace

void read_json_records(const std::filesystem::path& path, const std::string& bytes, bool jsonl,
                       const ReadOptions& options, ParsedDocument& doc) {
  std::vector<std::pair<nlohmann::json, std::string>> records;  // (record, where for errors)
  try {
    if (jsonl) {
      size_t line_no = 0;
      for (size_t pos = 0; pos < bytes.size();) {
        const size_t eol = std::min(bytes.find('\n', pos), bytes.size());
        const std::string line = bytes.substr(pos, eol - pos);
        ++line_no;
        pos = eol + 1;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        records.emplace_back(nlohmann::json::parse(line), path.string() + ": line " + std::to_string(line_no));
      }
    } else {
      nlohmann::json all = nlohmann::json::parse(bytes);
      check(all.is_array(), path.string(), ": expected a JSON array of objects (one per record), got ", all.type_name());
      for (size_t i = 0; i < all.size(); ++i)
        records.emplace_back(std::move(all[i]), path.string() + ": record " + std::to_string(i + 1));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), ": not valid JSON", jsonl ? "L" : "", " (", e.what(), ")");
  }
  check(!records.empty(), path.string(), ": no records");

  std::string text;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [record, where] = records[i];
    if (!text.empty()) text += "\n\n";
    const size_t begin = text.size();
    text += record_text(record, where, options);
    doc.sections.push_back({record_heading(record, i, options), begin, text.size()});
  }
  doc.record.kind = "json";
  nlohmann::json meta = {{"records", records.size()}};
  doc.record.metadata_json = meta.dump();
  doc.pages.push_back({1, std::move(text)});
}

}  // namespace tunekit::rag
