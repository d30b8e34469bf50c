// The runtime adapter routes: body checks, then the registry; its errors become HTTP statuses.
#include "adapter_routes.h"

#include "openai_api.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

json parse_body(const std::string& text) {
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "invalid_request_error");
  return body;
}

std::string string_field(const json& body, const char* key, const char* usage) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty() ||
      it->get<std::string>().find('\0') != std::string::npos)
    throw ApiError(400, std::string("'") + key + "' must be a non-empty string (without NUL characters); " + usage,
                   "invalid_request_error", key);
  return it->get<std::string>();
}

AdapterRegistry& registry(const ServedModel& served) {
  if (!served.adapters || !served.adapters->runtime_loading())
    throw ApiError(403, "runtime adapter loading is off; start the server with --adapter-dir DIR",
                   "permission_error", "", "runtime_loading_disabled");
  return *served.adapters;
}

ApiError api_error(const AdapterError& e, const char* param) {
  switch (e.kind) {
    case AdapterError::Kind::not_found: return ApiError(404, e.what(), "not_found_error", param, "adapter_not_found");
    case AdapterError::Kind::forbidden: return ApiError(403, e.what(), "permission_error", param, "path_not_allowed");
    case AdapterError::Kind::exists: return ApiError(400, e.what(), "invalid_request_error", "lora_name", "adapter_exists");
    case AdapterError::Kind::invalid: break;
  }
  return ApiError(400, e.what(), "invalid_request_error", param, "invalid_adapter");
}

}  // namespace

std::string load_lora_adapter(const ServedModel& served, const std::string& body_text) {
  const json body = parse_body(body_text);
  const char* usage = "send {\"lora_name\": NAME, \"lora_path\": FOLDER}";
  const std::string name = string_field(body, "lora_name", usage), path = string_field(body, "lora_path", usage);
  if (name == served.name || (served.encoder && name == served.encoder->name()))
    throw ApiError(400, "the name '" + name + "' is a served model's; give the adapter its own name",
                   "invalid_request_error", "lora_name", "adapter_exists");
  try {
    registry(served).load_allowed(name, path);
  } catch (const AdapterError& e) {
    throw api_error(e, "lora_path");
  }
  return "Success: LoRA adapter '" + name + "' added successfully.";
}

std::string unload_lora_adapter(const ServedModel& served, const std::string& body_text) {
  const json body = parse_body(body_text);
  const std::string name = string_field(body, "lora_name", "send {\"lora_name\": NAME}");
  try {
    registry(served).unload(name);
  } catch (const AdapterError& e) {
    throw api_error(e, "lora_name");
  }
  return "Success: LoRA adapter '" + name + "' removed successfully.";
}

}  // namespace tunekit::server
