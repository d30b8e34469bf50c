// Opening a knowledge base for tunekit serve (server/served_knowledge_base.h).
#include "tunekit/server/served_knowledge_base.h"

namespace tunekit::server {

ServedKnowledgeBase::ServedKnowledgeBase(const std::filesystem::path& dir)
    : kb_(rag::KnowledgeBase::open(dir, false)), dense_(rag::open_dense_side(*kb_)) {
  retriever_ = std::make_unique<rag::Retriever>(*kb_, dense_.encoder.get(), dense_.index.get());
}

}  // namespace tunekit::server
