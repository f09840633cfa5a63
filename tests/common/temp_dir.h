// A private temporary directory for one test, removed with its contents on destruction.
// Not thread-safe; one owner.
#ifndef RINGFENCE_TESTS_COMMON_TEMP_DIR_H_
#define RINGFENCE_TESTS_COMMON_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace ringfence::testing {

class TempDir {
 public:
  // Creates a fresh directory (mode 0700) under $TMPDIR or /tmp whose name starts with `prefix`.
  // Aborts if it cannot.
  explicit TempDir(const std::string& prefix = "ringfence");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace ringfence::testing

#endif  // RINGFENCE_TESTS_COMMON_TEMP_DIR_H_
