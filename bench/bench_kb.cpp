// bench_kb: the knowledge base at scale on synthetic text. Prints JSON lines:
//   ingest  pages/s and chunks/s through the chunker and the SQLite store (documents of --pages-per-doc
//           pages, one transaction each), and the database's size on disk
//   bm25    latency p50/p99 of --queries free-text queries of --query-words words drawn like the text
//           (k = 10), wall clock and this thread's CPU time (the machines are shared)
//   hnsw    build time of one --dim unit vector per chunk, embedding-like (a random projection of
//           --latent Gaussian dimensions plus noise; --latent 0: independent random directions,
//           HNSW's worst case, which sentence embeddings are far from), then per
//           ef_search 64/128/256/512: query latency p50/p99 (k = 10, one query at a time) and
//           recall@10 against exhaustive search on the same queries; the index's size on disk
// Text: a seeded generator over a vocabulary of --vocab made-up words drawn with Zipf-like
// frequencies (rank r has weight 1/r), so that a few words are everywhere as in real prose.
//
//   bench_kb [--chunks 100000] [--words-per-page 200] [--pages-per-doc 50] [--queries 200]
//            [--query-words 6] [--dim 384] [--latent 16] [--vocab 50000] [--dir /tmp/bench_kb] [--seed 1] [--skip-hnsw] [--keep]
//            [--reuse]   (--keep leaves --dir in place; --reuse queries a kept base instead of ingesting)
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>

#include "bench_util.h"
#include "synthetic_vectors.h"
#include "tunekit/core/parallel.h"
#include "tunekit/rag/chunker.h"
#include "tunekit/rag/store.h"
#include "tunekit/rag/vector_index.h"

namespace fs = std::filesystem;
using namespace tunekit;
using tunekit::bench::now_seconds;
using tunekit::bench::print_json_line;

namespace {

struct Args {
  int64_t chunks = 100000, words_per_page = 200, pages_per_doc = 50, queries = 200, query_words = 6;
  int64_t dim = 384, vocab = 50000, latent = 16;
  uint32_t seed = 1;
  std::string dir = "/tmp/bench_kb." + std::to_string(::getpid());
  bool skip_hnsw = false, keep = false, reuse = false;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--chunks") a.chunks = std::stoll(next());
    else if (flag == "--words-per-page") a.words_per_page = std::stoll(next());
    else if (flag == "--pages-per-doc") a.pages_per_doc = std::stoll(next());
    else if (flag == "--queries") a.queries = std::stoll(next());
    else if (flag == "--query-words") a.query_words = std::stoll(next());
    else if (flag == "--dim") a.dim = std::stoll(next());
    else if (flag == "--vocab") a.vocab = std::stoll(next());
    else if (flag == "--latent") a.latent = std::stoll(next());
    else if (flag == "--dir") a.dir = next();
    else if (flag == "--seed") a.seed = uint32_t(std::stoul(next()));
    else if (flag == "--skip-hnsw") a.skip_hnsw = true;
    else if (flag == "--keep") a.keep = true;
    else if (flag == "--reuse") a.reuse = a.keep = true;
    else throw std::runtime_error("unknown flag " + flag + " (see the comment at the top of bench_kb.cpp)");
  }
  return a;
}

// Made-up words (2-10 lower-case letters) drawn with weight 1/rank.
class WordGenerator {
 public:
  WordGenerator(int64_t vocab, uint32_t seed) : rng_(seed) {
    std::uniform_int_distribution<int> length(2, 10), letter('a', 'z');
    std::vector<double> weights;
    for (int64_t r = 1; r <= vocab; ++r) {
      std::string w;
      for (int n = length(rng_); n > 0; --n) w += char(letter(rng_));
      words_.push_back(w);
      weights.push_back(1.0 / double(r));
    }
    zipf_ = std::discrete_distribution<int64_t>(weights.begin(), weights.end());
  }
  const std::string& word() { return words_[size_t(zipf_(rng_))]; }
  std::string text(int64_t n_words) {
    std::string t;
    for (int64_t i = 0; i < n_words; ++i) {
      if (i) t += (i % 17 == 0) ? ". " : " ";
      t += word();
    }
    return t;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> words_;
  std::discrete_distribution<int64_t> zipf_;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

// CPU time of this thread: on a shared machine, the part of a latency that was our own work.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

int64_t file_bytes(const fs::path& p) { return fs::exists(p) ? int64_t(fs::file_size(p)) : 0; }

// One document of pages_per_doc synthetic pages, as the readers would hand it to the chunker.
rag::ParsedDocument synthetic_document(WordGenerator& words, int64_t index, int64_t n_pages, int64_t words_per_page) {
  rag::ParsedDocument doc;
  doc.record.name = "doc-" + std::to_string(index) + ".txt";
  doc.record.path = doc.record.name;
  doc.record.kind = "text";
  doc.record.content_hash = std::to_string(index);
  doc.record.n_pages = n_pages;
  doc.record.metadata_json = "{}";
  for (int64_t p = 1; p <= n_pages; ++p) {
    if (p > 1) doc.text += "\n";
    doc.page_begin.push_back(doc.text.size());
    doc.pages.push_back({p, words.text(words_per_page)});
    doc.text += doc.pages.back().text;
  }
  return doc;
}

void ingest_synthetic(const Args& a, WordGenerator& words, std::unique_ptr<rag::KnowledgeBase>& kb) {
  rag::ChunkOptions chunking;
  chunking.mode = rag::ChunkMode::Page;  // one chunk per page: --chunks pages make --chunks chunks
  chunking.max_tokens = a.words_per_page + 1;
  int64_t pages = 0, chunks = 0, docs = 0;
  double generate_s = 0, ingest_s = 0;
  while (chunks < a.chunks) {
    double t0 = now_seconds();
    rag::ParsedDocument doc = synthetic_document(words, docs++, std::min(a.pages_per_doc, a.chunks - chunks), a.words_per_page);
    double t1 = now_seconds();
    std::vector<rag::ChunkInput> pieces = rag::chunk_document(doc, chunking);
    kb->put_document(doc.record, doc.pages, pieces);
    ingest_s += now_seconds() - t1;
    generate_s += t1 - t0;
    pages += int64_t(doc.pages.size());
    chunks += int64_t(pieces.size());
  }
  kb.reset();  // close: checkpoints the WAL into kb.sqlite
  kb = rag::KnowledgeBase::open(a.dir, false);
  int64_t db_bytes = file_bytes(fs::path(a.dir) / "kb.sqlite") + file_bytes(fs::path(a.dir) / "kb.sqlite-wal");
  print_json_line({{"bench", "kb_ingest"}, {"documents", docs}, {"pages", pages}, {"chunks", kb->chunk_count()},
                   {"words_per_page", a.words_per_page}, {"seconds", ingest_s}, {"pages_per_s", double(pages) / ingest_s},
                   {"chunks_per_s", double(chunks) / ingest_s}, {"text_generation_s", generate_s},
                   {"db_bytes", db_bytes}, {"machine", bench::machine_info()}});
}

void bench_bm25(const Args& a, WordGenerator& words, const rag::KnowledgeBase& kb) {
  std::vector<std::string> queries;
  for (int64_t q = 0; q < a.queries; ++q) queries.push_back(words.text(a.query_words));
  for (int i = 0; i < 5; ++i) kb.search_bm25(queries[size_t(i) % queries.size()], 10);  // warm the page cache
  std::vector<double> ms, cpu_ms;
  int64_t hits = 0;
  for (const auto& q : queries) {
    double t0 = now_seconds(), c0 = thread_cpu_seconds();
    hits += int64_t(kb.search_bm25(q, 10).size());
    ms.push_back(1e3 * (now_seconds() - t0));
    cpu_ms.push_back(1e3 * (thread_cpu_seconds() - c0));
  }
  print_json_line({{"bench", "kb_bm25"}, {"chunks", kb.chunk_count()}, {"queries", a.queries},
                   {"query_words", a.query_words}, {"k", 10}, {"p50_ms", percentile(ms, 0.5)},
                   {"p99_ms", percentile(ms, 0.99)}, {"cpu_p50_ms", percentile(cpu_ms, 0.5)},
                   {"cpu_p99_ms", percentile(cpu_ms, 0.99)}, {"mean_hits", double(hits) / double(a.queries)},
                   {"machine", bench::machine_info()}});
}

void bench_store(const Args& a, WordGenerator& words) {
  auto kb = rag::KnowledgeBase::open(a.dir, true);
  if (!a.reuse) ingest_synthetic(a, words, kb);
  bench_bm25(a, words, *kb);
}

void bench_hnsw(const Args& a) {
  const int64_t n = a.chunks, dim = a.dim;
  std::vector<float> base = synthetic::embedding_like_vectors(n, dim, a.latent, a.seed + 1);          // [n, dim]
  std::vector<float> queries = synthetic::embedding_like_vectors(a.queries, dim, a.latent, a.seed + 2);  // [queries, dim]
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = i + 1;
  rag::VectorIndex index(dim, "random");
  double t0 = now_seconds();
  index.add(ids, base.data());
  double build_s = now_seconds() - t0;
  fs::path path = fs::path(a.dir) / "vectors.hnsw";
  t0 = now_seconds();
  index.save(path);
  double save_s = now_seconds() - t0;

  // Exhaustive top 10 of each query, for recall.
  std::vector<std::vector<int64_t>> truth(static_cast<size_t>(a.queries));
  std::vector<std::pair<float, int64_t>> exact(static_cast<size_t>(n));
  for (int64_t q = 0; q < a.queries; ++q) {
    const float* query = queries.data() + q * dim;
    parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float dot = 0;
        for (int64_t j = 0; j < dim; ++j) dot += base[size_t(i * dim + j)] * query[j];
        exact[size_t(i)] = {-dot, i + 1};
      }
    }, 1024);
    std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
    for (int j = 0; j < 10; ++j) truth[size_t(q)].push_back(exact[size_t(j)].second);
  }
  for (int64_t ef : {64, 128, 256, 512}) {
    index.set_ef_search(ef);
    std::vector<double> ms;
    int64_t found = 0;
    for (int64_t q = 0; q < a.queries; ++q) {
      double s0 = now_seconds();
      std::vector<rag::Hit> hits = index.search(queries.data() + q * dim, 10);
      ms.push_back(1e3 * (now_seconds() - s0));
      for (const auto& h : hits) found += std::count(truth[size_t(q)].begin(), truth[size_t(q)].end(), h.chunk_id);
    }
    print_json_line({{"bench", "kb_hnsw"}, {"vectors", n}, {"dim", dim}, {"data", a.latent > 0 ? "embedding-like, latent " + std::to_string(a.latent) : std::string("iid random")},
                     {"M", 16}, {"ef_construction", 200}, {"ef_search", ef}, {"build_threads", num_threads()},
                     {"build_s", build_s}, {"save_s", save_s}, {"queries", a.queries}, {"k", 10},
                     {"p50_ms", percentile(ms, 0.5)}, {"p99_ms", percentile(ms, 0.99)},
                     {"recall_at_10", double(found) / double(10 * a.queries)}, {"index_bytes", file_bytes(path)},
                     {"machine", bench::machine_info()}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse_args(argc, argv);
    if (!a.reuse) fs::remove_all(a.dir);
    WordGenerator words(a.vocab, a.seed);
    bench_store(a, words);
    if (!a.skip_hnsw) bench_hnsw(a);
    if (!a.keep) fs::remove_all(a.dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kb: %s\n", e.what());
    return 1;
  }
  return 0;
}
