// load_dataset: files and folders -> records -> samples (records are encoded on the thread pool,
// then checked in file order so the first bad line is the one reported), raw documents cut into
// seq_len windows, and the seeded train/validation split.
#include <algorithm>
#include <functional>
#include <random>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "train/data_records.h"

namespace tunekit {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

bool is_pdf(const fs::path& p) { return p.extension() == ".pdf"; }
bool is_text_document(const fs::path& p) {
  return p.extension() == ".txt" || p.extension() == ".md" || p.extension() == ".markdown";
}
bool is_document(const fs::path& p) { return is_text_document(p) || is_pdf(p); }
bool is_jsonl(const fs::path& p) { return p.extension() == ".jsonl"; }
bool is_json(const fs::path& p) { return p.extension() == ".json"; }

// Files in the order given; a folder contributes its dataset files (recursively, sorted), but not
// its .json files, which in a dataset folder are as often metadata (HF's dataset_info.json) as data.
std::vector<fs::path> expand(const std::vector<fs::path>& paths, bool reads_pdf) {
  const char* kinds = reads_pdf ? ".jsonl, .txt, .md, .markdown or .pdf" : ".jsonl, .txt, .md or .markdown";
  auto is_dataset_file = [&](const fs::path& p) { return is_jsonl(p) || is_text_document(p) || (reads_pdf && is_pdf(p)); };
  std::vector<fs::path> files;
  for (const fs::path& p : paths) {
    check(fs::exists(p), p.string(), ": no such file or folder");
    if (!fs::is_directory(p)) {
      check(reads_pdf || !is_pdf(p), p.string(), ": PDF needs a document reader (DataOptions::pdf_text; tunekit train and eval have one)");
      check(is_dataset_file(p) || is_json(p), p.string(), ": not a dataset file (expected .json or ", kinds,
            ", or a folder of them)");
      files.push_back(p);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(p))
      if (entry.is_regular_file() && is_dataset_file(entry.path())) found.push_back(entry.path());
    check(!found.empty(), p.string(), ": the folder holds no ", kinds, " files");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::string_view without_utf8_bom(std::string_view text) {
  return text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
}

struct Line {
  size_t number;          // 1-based
  std::string_view text;  // without the line break
};

std::vector<Line> non_blank_lines(std::string_view text) {
  std::vector<Line> lines;
  size_t number = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    ++number;
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back({number, line});
    at = end + 1;
  }
  return lines;
}

Json parse_record(std::string_view line) {
  try {
    return Json::parse(line);
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 7: <problem>" -> "at column 7: <problem>";
    // a number too large for a double ("1e999") is out_of_range.406 and keeps its whole message.
    std::string what = e.what();
    const std::string lead = "parse error at line 1, ";
    size_t at = what.find(lead);
    fail("bad JSON ", at == std::string::npos ? ": " + what : "at " + what.substr(at + lead.size()));
  }
}

class Loader {
 public:
  Loader(const SampleEncoder& encoder, const DataOptions& options, Dataset& out)
      : encoder_(encoder), options_(options), out_(out) {}

  std::vector<Sample> load(const std::vector<fs::path>& paths) {
    std::vector<Sample> samples;
    for (const fs::path& file : expand(paths, bool(options_.pdf_text))) {
      const size_t before = samples.size(), skipped_before = out_.skipped.size();
      if (options_.format == DataFormat::Raw || is_document(file)) load_document(file, samples);
      else load_records(file, samples);
      if (samples.size() > before) continue;
      check(out_.skipped.size() > skipped_before, file.string(), ": no samples (the file holds no records)");
      fail(file.string(), ": no samples (all ", out_.skipped.size() - skipped_before,
           " records were skipped as bad; the first: ", out_.skipped[skipped_before], ")");
    }
    return samples;
  }

 private:
  // Cuts (or refuses) a sample longer than seq_len.
  void fit(Sample& s) {
    const size_t max = size_t(options_.seq_len);
    if (s.tokens.size() <= max) return;
    check(options_.truncate, s.source, ": sample has ", s.tokens.size(), " tokens, more than seq_len ", max,
          " (raise seq_len, or set truncate to cut long samples)");
    s.tokens.resize(max);
    s.weights.resize(max);
    ++out_.n_truncated;
  }

  void bad(const std::string& where, const std::string& problem) {
    check(options_.skip_bad_lines, where, ": ", problem);
    out_.skipped.push_back(where + ": " + problem);
  }

  // The records of a .jsonl file (one per non-blank line, "file:line") or of a .json file: a JSON
  // array of records ("file:record N", from 1), one record over several lines, or JSON Lines under a
  // .json name (HF datasets reads all three). record(i) parses record i, throwing Error for bad JSON.
  struct Records {
    size_t count = 0;
    std::function<std::string(size_t)> where;
    std::function<Json(size_t)> record;
  };

  void load_records(const fs::path& file, std::vector<Sample>& samples) {
    const std::string text = read_text_file(file);
    const std::string_view body = without_utf8_bom(text);
    const size_t first = body.find_first_not_of(" \t\r\n");
    Json whole;
    if (is_json(file) && first != std::string_view::npos && body[first] == '[') {
      try {
        whole = Json::parse(body);
      } catch (const Json::exception& e) {
        fail(file.string(), ": not valid JSON (", e.what(), ")");
      }
    } else if (is_json(file)) {
      whole = Json::parse(body, nullptr, /*allow_exceptions=*/false);  // one record, else JSON Lines
    }
    if (whole.is_object()) whole = Json::array({whole});  // a single record
    if (whole.is_array()) {
      const Json& array = whole;  // read from the pool's threads: const access only
      const Records records{array.size(), [&](size_t i) { return file.string() + ":record " + std::to_string(i + 1); },
                            [&](size_t i) { return array[i]; }};
      encode(records, samples);
      return;
    }
    const std::vector<Line> lines = non_blank_lines(body);
    const Records records{lines.size(), [&](size_t i) { return file.string() + ":" + std::to_string(lines[i].number); },
                          [&](size_t i) { return parse_record(lines[i].text); }};
    encode(records, samples);
  }

  DataFormat detect(const Records& records) {
    if (options_.format != DataFormat::Auto) return options_.format;
    for (size_t i = 0; i < records.count; ++i) {  // the first record that parses (the others are bad)
      try {
        return detect_format(records.record(i));
      } catch (const Error& e) {
        check(options_.skip_bad_lines, records.where(i), ": ", e.what());
      }
    }
    return DataFormat::Auto;  // no record parses: each is reported below
  }

  // Encodes the records on the pool, then checks them in order (so the first bad one is reported).
  void encode(const Records& records, std::vector<Sample>& samples) {
    const DataFormat format = detect(records);
    struct Outcome {
      Sample sample;
      std::string error;
    };
    std::vector<Outcome> outcomes(records.count);
    parallel_for(int64_t(records.count), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        try {
          outcomes[size_t(i)].sample = record_to_sample(records.record(size_t(i)), format, encoder_);
        } catch (const std::exception& e) {
          outcomes[size_t(i)].error = e.what();
        }
      }
    });
    for (size_t i = 0; i < records.count; ++i) {
      std::string where = records.where(i);
      if (!outcomes[i].error.empty()) {
        bad(where, outcomes[i].error);
        continue;
      }
      Sample& s = outcomes[i].sample;
      if (s.tokens.size() < 2) {
        bad(where, "the record encodes to " + std::to_string(s.tokens.size()) + " token(s): nothing to learn from");
        continue;
      }
      s.source = std::move(where);
      fit(s);
      samples.push_back(std::move(s));
    }
  }

  // The whole document's tokens in windows of seq_len that overlap by one token, so every token but
  // the first is predicted exactly once.
  void load_document(const fs::path& file, std::vector<Sample>& samples) {
    const std::string text = is_pdf(file) ? options_.pdf_text(file) : read_text_file(file);
    std::string_view body = without_utf8_bom(text);
    check(body.find_first_not_of(" \t\r\n") != std::string_view::npos, file.string(), ": the document is empty");
    const std::vector<int32_t> tokens = encoder_.document(body);
    const size_t window = size_t(options_.seq_len), n = tokens.size();
    for (size_t start = 0, chunk = 1;; start += window - 1, ++chunk) {
      size_t end = std::min(start + window, n);
      Sample s;
      s.tokens.assign(tokens.begin() + std::ptrdiff_t(start), tokens.begin() + std::ptrdiff_t(end));
      s.weights.assign(s.tokens.size(), 1.0f);
      s.source = file.string() + ":chunk " + std::to_string(chunk);
      samples.push_back(std::move(s));
      if (end == n) break;
    }
  }

  const SampleEncoder& encoder_;
  const DataOptions& options_;
  Dataset& out_;
};

// Moves the samples at a seeded random val_fraction of the indices into val; both keep file order.
void split(std::vector<Sample>& train, std::vector<Sample>& val, double fraction, uint64_t seed) {
  const size_t n = train.size();
  size_t n_val = size_t(double(n) * fraction + 0.5);
  n_val = std::max<size_t>(n_val, 1);
  check(n_val < n, "val_fraction ", fraction, " of ", n, " samples leaves no training samples "
        "(lower val_fraction or give more data)");
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[size_t(rng() % (i + 1))]);  // Fisher-Yates
  std::vector<bool> to_val(n, false);
  for (size_t i = 0; i < n_val; ++i) to_val[order[i]] = true;
  std::vector<Sample> kept;
  for (size_t i = 0; i < n; ++i) (to_val[i] ? val : kept).push_back(std::move(train[i]));
  train = std::move(kept);
}

}  // namespace

Dataset load_dataset(const std::vector<fs::path>& train_paths, const std::vector<fs::path>& val_paths,
                     const Tokenizer& tok, const ChatTemplate* chat, const DataOptions& options) {
  check(!train_paths.empty(), "no training data given");
  check(options.seq_len >= 2, "seq_len must be at least 2, got ", options.seq_len);
  check(options.prompt_loss_weight >= 0 && options.prompt_loss_weight <= 1,
        "prompt_loss_weight must be in [0, 1], got ", options.prompt_loss_weight);
  check(options.val_fraction >= 0 && options.val_fraction < 1, "val_fraction must be in [0, 1), got ",
        options.val_fraction);
  check(val_paths.empty() || options.val_fraction == 0,
        "give either validation files or val_fraction, not both");

  const SampleEncoder encoder(tok, chat, options.prompt_loss_weight);
  Dataset data;
  Loader loader(encoder, options, data);
  data.train = loader.load(train_paths);
  if (!val_paths.empty()) data.val = loader.load(val_paths);
  else if (options.val_fraction > 0) split(data.train, data.val, options.val_fraction, options.seed);
  return data;
}

}  // namespace tunekit
