#include "kb_open.h"

#include <algorithm>
#include <cstdio>

#include "tunekit/error.h"

namespace tunekit::cli {

KbSearcher::KbSearcher(const std::string& kb_dir, rag::RetrievalMode mode, const std::string& encoder_dir)
    : KbSearcher(kb_dir, std::vector<rag::RetrievalMode>{mode}, encoder_dir) {}

KbSearcher::KbSearcher(const std::string& kb_dir, const std::vector<rag::RetrievalMode>& modes,
                       const std::string& encoder_dir)
    : kb_(rag::KnowledgeBase::open(kb_dir, false)) {
  auto needs = [&](rag::RetrievalMode m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
  if (needs(rag::RetrievalMode::Dense) || needs(rag::RetrievalMode::Hybrid)) {
    dense_ = rag::open_dense_side(*kb_, encoder_dir);
    check(dense_.encoder || !needs(rag::RetrievalMode::Dense), "dense retrieval: ", dense_.warning);
    if (!dense_.warning.empty()) std::fprintf(stderr, "tunekit: warning: %s\n", dense_.warning.c_str());
  }
  retriever_ = std::make_unique<rag::Retriever>(*kb_, dense_.encoder.get(), dense_.index.get());
}

}  // namespace tunekit::cli
