// choose_model and the model list.
#include "model_choice.h"

#include "openai_api.h"
#include "rag_chat.h"

namespace tunekit::server {

using nlohmann::json;

ModelChoice choose_model(const ServedModel& served, const std::string& name, bool for_embeddings) {
  ModelChoice choice;
  const bool encoder_named = served.encoder && name == served.encoder->name();
  if (encoder_named || (name.empty() && for_embeddings && served.encoder)) {
    if (!for_embeddings)
      throw ApiError(400, "the model '" + name + "' is a sentence encoder; it serves /v1/embeddings only",
                     "invalid_request_error", "model", "model_not_supported");
    choice.kind = ModelChoice::Kind::encoder;
    choice.name = served.encoder->name();
    return choice;
  }
  if (name.empty() || name == served.name) {
    choice.name = served.name;
    return choice;
  }
  if (served.adapters) {
    try {
      choice.adapter = served.adapters->acquire(name);
    } catch (const AdapterError& e) {
      throw ApiError(500, e.what(), "server_error", "model", "adapter_unavailable");
    }
  }
  if (!choice.adapter)
    throw ApiError(404, "the model '" + name + "' does not exist; GET /v1/models lists the served ones",
                   "invalid_request_error", "model", "model_not_found");
  choice.kind = ModelChoice::Kind::adapter;
  choice.name = name;
  return choice;
}

json models_json(const ServedModel& served) {
  auto entry = [](const std::string& id, const std::string& parent) {
    json m = {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "tunekit"}};
    if (!parent.empty()) m["parent"] = parent;
    return m;
  };
  json data = json::array({entry(served.name, "")});
  if (served.adapters)
    for (const std::string& name : served.adapters->names()) data.push_back(entry(name, served.name));
  if (served.encoder) data.push_back(entry(served.encoder->name(), ""));
  for (const auto& knowledge_base : served.knowledge_bases) {  // chat grounded in it (ADAPTER+kb:NAME works too)
    json alias = entry(knowledge_base_alias(served.name, knowledge_base.first), served.name);
    alias["knowledge_base"] = knowledge_base.first;
    data.push_back(alias);
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace tunekit::server
