// The server's named LoRA adapters: registered at start (--adapter NAME=DIR, or already in memory)
// or at runtime from folders the operator allowed (--adapter-dir), with an LRU bound on how many
// stay resident. An evicted adapter stays registered and is read again from its folder when a
// request names it; a request holds its adapter through a shared_ptr, so neither eviction nor
// unloading pulls it from under a running generation. Thread-safe.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tunekit/error.h"
#include "tunekit/models/config.h"
#include "tunekit/models/lora.h"

namespace tunekit::server {

struct AdapterRegistryOptions {
  // The folders runtime loads (load_allowed) may read from; none: runtime loading is off.
  std::vector<std::filesystem::path> allowed_dirs;
  // Adapters read from folders that stay in memory at once (least recently used ones are dropped
  // first); 0 = no bound. Adapters added from memory are always resident and not counted.
  int64_t max_resident = 0;
};

struct AdapterRegistryStats {
  int64_t registered = 0;  // names a request may use
  int64_t resident = 0;    // of those, held in memory by the registry now
  int64_t loads = 0;       // folders read (first loads and reloads after eviction)
  int64_t evictions = 0;   // adapters dropped by the LRU bound
};

// What went wrong with an adapter request; the server maps it to an HTTP status.
struct AdapterError : Error {
  enum class Kind { not_found, forbidden, exists, invalid };
  AdapterError(Kind kind, std::string message) : Error(std::move(message)), kind(kind) {}
  Kind kind;
};

class AdapterRegistry {
 public:
  // Throws Error when an allowed folder does not exist.
  AdapterRegistry(const ModelConfig& model, AdapterRegistryOptions options = {});

  // An adapter already in memory (validated against the model); kept resident until unloaded.
  void add(const std::string& name, std::shared_ptr<const LoraAdapter> adapter);
  // A PEFT folder named by the operator (any folder): read now. Throws AdapterError (exists,
  // invalid: the folder's problem in the message).
  void load(const std::string& name, const std::filesystem::path& dir);
  // A PEFT folder named by an API client: accepted only when its canonical form (symlinks resolved)
  // and the files read from it lie inside an allowed folder; relative paths are taken from the
  // server's working directory. Throws AdapterError: forbidden (outside, or no allowed folders),
  // not_found (no such folder), exists, invalid.
  void load_allowed(const std::string& name, const std::filesystem::path& dir);
  // Forgets the name (requests running with it finish with their copy). Throws AdapterError not_found.
  void unload(const std::string& name);

  // The adapter named, read again from its folder when it was evicted; null when no adapter has
  // that name. Throws AdapterError invalid when a reload fails (the folder changed or vanished).
  std::shared_ptr<const LoraAdapter> acquire(const std::string& name);

  std::vector<std::string> names() const;  // sorted
  AdapterRegistryStats stats() const;
  bool runtime_loading() const { return !options_.allowed_dirs.empty(); }

 private:
  struct Entry {
    std::filesystem::path dir;                   // empty: added from memory (cannot be reloaded)
    std::shared_ptr<const LoraAdapter> adapter;  // null while evicted
    std::weak_ptr<const LoraAdapter> evicted;    // a dropped copy that running requests may still hold
    uint64_t last_used = 0;
    uint64_t generation = 0;  // tells a re-registered name from the one a reload started for
  };
  void insert(const std::string& name, Entry entry);  // under mutex_
  void evict_beyond_bound(const std::string& keep);   // under mutex_
  std::filesystem::path allowed_path(const std::filesystem::path& dir) const;
  std::shared_ptr<const LoraAdapter> read(const std::filesystem::path& dir);

  ModelConfig model_;
  AdapterRegistryOptions options_;  // allowed_dirs canonical
  mutable std::mutex mutex_;        // entries_, counters
  std::mutex load_mutex_;           // one reload from disk at a time (no duplicate copies)
  std::map<std::string, Entry> entries_;
  uint64_t clock_ = 0;
  uint64_t generations_ = 0;
  int64_t loads_ = 0, evictions_ = 0;
};

}  // namespace tunekit::server
