// POST /v1/load_lora_adapter {"lora_name", "lora_path"} and POST /v1/unload_lora_adapter
// {"lora_name"}, as vLLM serves them: 200 with a plain-text "Success: ..." line, or an
// OpenAI-shaped error (400 bad body, name taken or not an adapter; 403 path outside --adapter-dir
// or runtime loading off; 404 no such folder or adapter).
#pragma once
#include <string>

#include "tunekit/server/server.h"

namespace tunekit::server {

// Each returns the success line; throws ApiError.
std::string load_lora_adapter(const ServedModel& served, const std::string& body);
std::string unload_lora_adapter(const ServedModel& served, const std::string& body);

}  // namespace tunekit::server
