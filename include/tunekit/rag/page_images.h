// PNG images of a PDF's pages, for showing the page a citation points at:
//   out_dir/<file name>/page-0001.png, page-0002.png, ...
// Each image is written to a temporary name and renamed into place, so an interrupted run never
// leaves a partial PNG under a final name.
#pragma once
#include <filesystem>
#include <vector>

namespace tunekit::rag {

// Renders every page of pdf at dpi (72: one pixel per point). Returns the files written, in page
// order. Throws Error naming the file (not a PDF, encrypted, cannot write).
std::vector<std::filesystem::path> render_pdf_pages(const std::filesystem::path& pdf,
                                                    const std::filesystem::path& out_dir, double dpi = 72);

}  // namespace tunekit::rag
