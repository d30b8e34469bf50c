// write_folder_atomic: temp folder + fsync + rename (an atomic exchange where the filesystem has
// one, else two renames).
#include "train/checkpoint_folder.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tunekit/error.h"

namespace tunekit::train {

namespace fs = std::filesystem;

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  check(fd >= 0, dir.string(), ": cannot open the folder to sync it (", std::strerror(errno), ")");
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  check(rc == 0, dir.string(), ": fsync failed (", std::strerror(err), ")");
}

bool is_partial_folder_name(const std::string& name) {
  return name.size() > 1 && name[0] == '.' &&
         (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos);
}

void write_folder_atomic(const fs::path& dir, const std::function<void(const fs::path&)>& fill) {
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  const std::string name = dir.filename().string(), pid = std::to_string(::getpid());
  const fs::path temp = parent / ("." + name + ".tmp-" + pid), old = parent / ("." + name + ".old-" + pid);
  std::error_code ec;
  fs::remove_all(temp, ec);
  try {
    fs::create_directories(temp);
    fill(temp);
    fsync_dir(temp);
    if (!fs::exists(dir)) {
      fs::rename(temp, dir);
      fsync_dir(parent);
    } else if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
      fsync_dir(parent);
      fs::remove_all(temp);  // now the previous folder
    } else {  // no atomic exchange here: a kill between the renames leaves the previous folder as `old`
      fs::rename(dir, old);
      fs::rename(temp, dir);
      fsync_dir(parent);
      fs::remove_all(old);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(temp, ec);
    fail(dir.string(), ": cannot write the folder (", e.what(), ")");
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
}

}  // namespace tunekit::train
