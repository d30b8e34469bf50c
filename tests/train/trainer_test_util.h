// Shared by the trainer, resume and CLI training tests: stories260K (skipped where ../shared is
// absent) and a small text dataset in its domain, written to a temp folder.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include "test_paths.h"

namespace tunekit::test {

inline std::filesystem::path stories260k() { return shared_dir() / "models" / "stories260K" / "stories260K.bin"; }

// n JSONL {"text": ...} records of short children's-story sentences (varied, deterministic).
inline std::filesystem::path write_story_jsonl(const std::filesystem::path& dir, int n, const std::string& name = "stories.jsonl") {
  const char* names[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Amy", "Tim"};
  const char* things[] = {"a red ball", "a big dog", "a little cat", "a shiny toy", "a blue bird", "a tall tree"};
  const char* moods[] = {"happy", "sad", "excited", "scared", "tired"};
  std::ofstream out(dir / name);
  for (int i = 0; i < n; ++i)
    out << "{\"text\": \"Once upon a time, " << names[i % 7] << " saw " << things[(i * 5) % 6] << ". "
        << names[i % 7] << " was very " << moods[(i * 3) % 5] << " and went home to tell mom.\"}\n";
  return dir / name;
}

}  // namespace tunekit::test
