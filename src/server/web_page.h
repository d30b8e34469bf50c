// The chat page at GET /: one self-contained HTML file (src/server/web/index.html: markup, style
// and script; no CDN, no external fonts), compiled into the binary at build time by
// cmake/embed_web_page.cmake. It lists the models (/v1/models) and knowledge bases
// (/v1/knowledge_bases), streams answers from /v1/chat/completions and shows their sources.
#pragma once
#include <httplib.h>

#include <string_view>

namespace tunekit::server {

std::string_view web_page_html();  // the page's bytes (generated web_page_html.cpp)

// 200 with the page, and a Content-Security-Policy that lets it talk to this server only.
void send_web_page(httplib::Response& res);

}  // namespace tunekit::server
