// GET / (web_page.h).
#include "web_page.h"

#include <string>

namespace tunekit::server {

void send_web_page(httplib::Response& res) {
  res.status = 200;
  // Inline style and script are the page itself; nothing may load from, or be sent to, elsewhere.
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                 "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_content(std::string(web_page_html()), "text/html; charset=utf-8");
}

}  // namespace tunekit::server
