// The text of a PDF for train and eval's --data: the knowledge base's reader (rag/document.h), its
// pages joined by a line break.
#include "tunekit/rag/document.h"
#include "verbs.h"

namespace tunekit::cli {

std::string pdf_text(const std::filesystem::path& path) { return rag::read_document(path).text; }

}  // namespace tunekit::cli
