// Folders written as a whole: built under a hidden temporary name beside the target, then swapped
// in, so that readers only ever see the old complete folder or the new complete one.
#pragma once
#include <filesystem>
#include <functional>

namespace tunekit::train {

// fill(temp) writes the folder's files into temp; then temp is fsync'ed and takes dir's place (the
// previous dir, if any, is removed afterwards) and dir's parent is fsync'ed. Temporary names are
// "." + dir's name + ".tmp-<pid>" / ".old-<pid>". If fill throws, dir is untouched.
void write_folder_atomic(const std::filesystem::path& dir, const std::function<void(const std::filesystem::path&)>& fill);

// True for the hidden names write_folder_atomic uses, which a killed writer may leave behind.
bool is_partial_folder_name(const std::string& name);

void fsync_dir(const std::filesystem::path& dir);

}  // namespace tunekit::train
