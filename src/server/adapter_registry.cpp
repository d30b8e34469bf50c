// AdapterRegistry: named adapters, the allowed-folder check for runtime loads, and the LRU bound.
#include "tunekit/server/adapter_registry.h"

#include <algorithm>

#include "tunekit/adapters/peft.h"

namespace tunekit::server {

namespace fs = std::filesystem;

namespace {

// True when path (canonical) is root or lies below it (canonical): compared element by element,
// so /srv/adapters-evil is not inside /srv/adapters.
bool is_inside(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

// The files load_peft_adapter reads from a folder.
const char* const kAdapterFiles[] = {"adapter_config.json", "adapter_model.safetensors"};

}  // namespace

AdapterRegistry::AdapterRegistry(const ModelConfig& model, AdapterRegistryOptions options)
    : model_(model), options_(std::move(options)) {
  for (fs::path& dir : options_.allowed_dirs) {
    std::error_code ec;
    fs::path canonical = fs::canonical(dir, ec);
    check(!ec && fs::is_directory(canonical), "--adapter-dir ", dir.string(),
          ": not an existing folder (runtime adapter loads may only read inside folders that exist)");
    dir = canonical;
  }
  check(options_.max_resident >= 0, "--max-loras must be >= 0 (0 = no bound), got ", options_.max_resident);
}

void AdapterRegistry::add(const std::string& name, std::shared_ptr<const LoraAdapter> adapter) {
  check(adapter != nullptr, "adapter '", name, "': null adapter");
  adapter->validate(model_, "adapter '" + name + "'");
  std::lock_guard lock(mutex_);
  insert(name, Entry{{}, std::move(adapter), {}, 0, 0});
}

void AdapterRegistry::load(const std::string& name, const fs::path& dir) {
  {
    std::lock_guard lock(mutex_);
    if (entries_.count(name)) throw AdapterError(AdapterError::Kind::exists, "the adapter '" + name + "' is already loaded");
  }
  const fs::path canonical = fs::weakly_canonical(fs::absolute(dir));
  std::shared_ptr<const LoraAdapter> adapter = read(canonical);
  std::lock_guard lock(mutex_);
  insert(name, Entry{canonical, std::move(adapter), {}, 0, 0});
  evict_beyond_bound(name);
}

void AdapterRegistry::load_allowed(const std::string& name, const fs::path& dir) { load(name, allowed_path(dir)); }

fs::path AdapterRegistry::allowed_path(const fs::path& dir) const {
  using Kind = AdapterError::Kind;
  if (!runtime_loading())
    throw AdapterError(Kind::forbidden, "runtime adapter loading is off; start the server with --adapter-dir DIR "
                                        "to allow loading adapters from inside DIR");
  const auto inside_allowed = [&](const fs::path& p) {
    return std::any_of(options_.allowed_dirs.begin(), options_.allowed_dirs.end(),
                       [&](const fs::path& root) { return is_inside(p, root); });
  };
  const auto outside = [&] {
    return AdapterError(Kind::forbidden, "'" + dir.string() + "' is outside the folders the server loads adapters "
                                         "from (--adapter-dir); paths are checked after resolving '..' and symlinks");
  };
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec || !inside_allowed(canonical)) throw outside();
  if (!fs::is_directory(canonical))
    throw AdapterError(Kind::not_found, "no adapter folder at '" + dir.string() + "'");
  for (const char* file : kAdapterFiles) {  // a file inside may itself be a symlink out of the folder
    const fs::path target = fs::weakly_canonical(canonical / file, ec);
    if (ec || !inside_allowed(target)) throw outside();
  }
  return canonical;
}

std::shared_ptr<const LoraAdapter> AdapterRegistry::read(const fs::path& dir) {
  std::shared_ptr<const LoraAdapter> adapter;
  try {
    adapter = std::make_shared<const LoraAdapter>(load_peft_adapter(dir, model_));
  } catch (const Error& e) {
    throw AdapterError(AdapterError::Kind::invalid, e.what());
  }
  std::lock_guard lock(mutex_);
  ++loads_;
  return adapter;
}

void AdapterRegistry::insert(const std::string& name, Entry entry) {
  if (entries_.count(name)) throw AdapterError(AdapterError::Kind::exists, "the adapter '" + name + "' is already loaded");
  entry.last_used = ++clock_;
  entry.generation = ++generations_;
  entries_.emplace(name, std::move(entry));
}

void AdapterRegistry::evict_beyond_bound(const std::string& keep) {
  if (options_.max_resident == 0) return;
  for (;;) {
    int64_t resident = 0;
    Entry* oldest = nullptr;
    for (auto& [name, e] : entries_) {
      if (!e.adapter || e.dir.empty()) continue;  // evicted already, or from memory (not counted)
      ++resident;
      if (name != keep && (!oldest || e.last_used < oldest->last_used)) oldest = &e;
    }
    if (resident <= options_.max_resident || !oldest) return;
    oldest->evicted = oldest->adapter;
    oldest->adapter.reset();
    ++evictions_;
  }
}

void AdapterRegistry::unload(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!entries_.erase(name))
    throw AdapterError(AdapterError::Kind::not_found, "the adapter '" + name + "' cannot be found");
}

std::shared_ptr<const LoraAdapter> AdapterRegistry::acquire(const std::string& name) {
  // The resident (or still alive) copy, marked as just used; *dir set when it must be read again.
  const auto lookup = [&](fs::path* dir, uint64_t* generation) -> std::shared_ptr<const LoraAdapter> {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return nullptr;
    Entry& e = it->second;
    e.last_used = ++clock_;
    if (!e.adapter) e.adapter = e.evicted.lock();  // a running request still holds it: revive
    if (e.adapter) {
      evict_beyond_bound(name);
      return e.adapter;
    }
    *dir = e.dir;
    *generation = e.generation;
    return nullptr;
  };
  fs::path dir;
  uint64_t generation = 0;
  if (auto adapter = lookup(&dir, &generation); adapter || dir.empty()) return adapter;
  std::lock_guard loading(load_mutex_);
  dir.clear();
  if (auto adapter = lookup(&dir, &generation); adapter || dir.empty()) return adapter;  // another thread read it
  std::shared_ptr<const LoraAdapter> adapter;
  try {
    adapter = read(dir);
  } catch (const Error& e) {
    throw AdapterError(AdapterError::Kind::invalid,
                       "the adapter '" + name + "' was evicted and could not be read again: " + e.what());
  }
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.generation != generation) return nullptr;  // unloaded meanwhile
  it->second.adapter = adapter;
  evict_beyond_bound(name);
  return adapter;
}

std::vector<std::string> AdapterRegistry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

AdapterRegistryStats AdapterRegistry::stats() const {
  std::lock_guard lock(mutex_);
  AdapterRegistryStats s;
  s.registered = int64_t(entries_.size());
  for (const auto& [name, e] : entries_) s.resident += e.adapter ? 1 : 0;
  s.loads = loads_;
  s.evictions = evictions_;
  return s;
}

}  // namespace tunekit::server
