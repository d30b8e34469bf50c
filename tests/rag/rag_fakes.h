// Test doubles for the retrieval tests: an in-memory KnowledgeBase (ids never reused, like the
// store's AUTOINCREMENT; "BM25" = count of query words in the chunk, enough to rank hand-made
// texts) and a bag-of-words SentenceEncoder (each word hashed to one coordinate, L2-normalised).
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "tunekit/rag/encoder.h"
#include "tunekit/rag/store.h"

namespace tunekit::test {

inline std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : std::string(text) + " ") {
    if (std::isalnum((unsigned char)c)) {
      word += char(std::tolower((unsigned char)c));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  return words;
}

class FakeKnowledgeBase : public rag::KnowledgeBase {
 public:
  explicit FakeKnowledgeBase(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const override { return dir_; }
  std::optional<rag::DocumentRecord> find_document(std::string_view name) const override {
    auto it = docs_.find(std::string(name));
    return it == docs_.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<rag::DocumentRecord> documents() const override {
    std::vector<rag::DocumentRecord> out;
    for (auto& [name, doc] : docs_) out.push_back(doc);
    return out;
  }
  int64_t put_document(const rag::DocumentRecord& doc, const std::vector<rag::PageRecord>&,
                       const std::vector<rag::ChunkInput>& chunks) override {
    remove_document(doc.name);
    rag::DocumentRecord stored = doc;
    stored.id = ++last_doc_id_;
    docs_[doc.name] = stored;
    for (const auto& c : chunks) {
      const int64_t id = ++last_chunk_id_;
      chunks_[id] = rag::ChunkRecord{id, stored.id, doc.name, c.page_first, c.page_last, c.section, c.text};
    }
    return stored.id;
  }
  bool remove_document(std::string_view name) override {
    if (!docs_.erase(std::string(name))) return false;
    std::erase_if(chunks_, [&](const auto& entry) { return entry.second.document == name; });
    return true;
  }
  int64_t chunk_count() const override { return int64_t(chunks_.size()); }
  int64_t document_chunk_count(int64_t document_id) const override {
    return std::count_if(chunks_.begin(), chunks_.end(), [&](const auto& e) { return e.second.document_id == document_id; });
  }
  std::optional<rag::ChunkRecord> chunk(int64_t id) const override {
    auto it = chunks_.find(id);
    return it == chunks_.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<rag::ChunkRecord> chunks(const std::vector<int64_t>& ids) const override {
    std::vector<rag::ChunkRecord> out;
    for (int64_t id : ids)
      if (auto c = chunk(id)) out.push_back(*c);
    return out;
  }
  std::vector<int64_t> chunk_ids() const override {
    std::vector<int64_t> ids;
    for (auto& [id, c] : chunks_) ids.push_back(id);
    return ids;
  }
  std::optional<rag::PageRecord> page(std::string_view, int64_t) const override { return std::nullopt; }
  std::vector<rag::Hit> search_bm25(std::string_view query, int64_t k) const override {
    std::set<std::string> terms;
    for (auto& w : words_of(query)) terms.insert(w);
    std::vector<rag::Hit> hits;
    for (auto& [id, c] : chunks_) {
      double score = 0;
      for (auto& w : words_of(c.text)) score += terms.count(w);
      if (score > 0) hits.push_back({id, score});
    }
    std::stable_sort(hits.begin(), hits.end(), [](auto& a, auto& b) { return a.score > b.score; });
    if (int64_t(hits.size()) > k) hits.resize(size_t(k));
    return hits;
  }
  std::optional<std::string> meta(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    return it == meta_.end() ? std::nullopt : std::optional(it->second);
  }
  void set_meta(std::string_view key, std::string_view value) override { meta_[std::string(key)] = value; }

  // One document of one-page chunks, each chunk's text given.
  int64_t put_texts(const std::string& name, const std::vector<std::string>& texts) {
    std::vector<rag::ChunkInput> chunks;
    int64_t page = 0;
    for (auto& t : texts) chunks.push_back({++page, page, "", t});
    return put_document(rag::DocumentRecord{0, name, name, "text", "", "", page, "{}"}, {}, chunks);
  }

 private:
  std::filesystem::path dir_;
  std::map<std::string, rag::DocumentRecord> docs_;
  std::map<int64_t, rag::ChunkRecord> chunks_;
  std::map<std::string, std::string> meta_;
  int64_t last_doc_id_ = 0, last_chunk_id_ = 0;
};

class BagOfWordsEncoder : public rag::SentenceEncoder {
 public:
  explicit BagOfWordsEncoder(int64_t dim = 64, std::string name = "bag-of-words") : dim_(dim), name_(std::move(name)) {}
  int64_t dim() const override { return dim_; }
  std::string name() const override { return name_; }
  int64_t max_tokens() const override { return 512; }
  std::vector<float> encode(const std::vector<std::string>& texts, rag::EncodeRole) const override {
    std::vector<float> out(texts.size() * size_t(dim_), 0.0f);  // [texts, dim]
    for (size_t i = 0; i < texts.size(); ++i) {
      float* row = out.data() + i * size_t(dim_);
      for (auto& w : words_of(texts[i])) row[std::hash<std::string>{}(w) % size_t(dim_)] += 1.0f;
      if (words_of(texts[i]).empty()) row[0] = 1.0f;
      double norm = 0;
      for (int64_t j = 0; j < dim_; ++j) norm += double(row[j]) * row[j];
      for (int64_t j = 0; j < dim_; ++j) row[j] = float(row[j] / std::sqrt(norm));
    }
    ++calls;
    return out;
  }
  int64_t count_tokens(const std::string& text, rag::EncodeRole) const override {
    return int64_t(words_of(text).size());
  }
  mutable int64_t calls = 0;

 private:
  int64_t dim_;
  std::string name_;
};

}  // namespace tunekit::test
