// Small helpers the route handlers share: JSON responses and OpenAI-shaped errors.
#pragma once
#include <httplib.h>

#include "openai_api.h"

namespace tunekit::server {

inline void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

inline void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, error_body(e.what(), e.type, e.param, e.code));
}

}  // namespace tunekit::server
