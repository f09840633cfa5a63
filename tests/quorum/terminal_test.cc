// tools/quorum/terminal: a passphrase read from a descriptor or a file, into guarded memory,
// bounded, with one trailing line feed dropped; oversized, unreadable and empty input.
#include "tools/quorum/terminal.h"

#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ringfence::quorum {
namespace {

using ::testing::HasSubstr;

// `text` written into a pipe whose write end is closed; returns the read end.
int PipeWith(const std::string& text) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  EXPECT_LE(text.size(), 65536u);  // a pipe's buffer: larger would block this thread
  EXPECT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  return fds[0];
}

std::string ReadFromPipe(const std::string& text, absl::StatusCode* code = nullptr) {
  const int fd = PipeWith(text);
  absl::StatusOr<base::SecretBytes> secret = ReadSecretFromFd(fd, "--passphrase-fd 7");
  close(fd);
  if (code != nullptr) *code = secret.status().code();
  return secret.ok() ? std::string(secret->view()) : std::string(secret.status().message());
}

TEST(ReadSecretFromFd, DropsOneTrailingLineFeedOnly) {
  EXPECT_EQ(ReadFromPipe("a long enough passphrase\n"), "a long enough passphrase");
  EXPECT_EQ(ReadFromPipe("a long enough passphrase"), "a long enough passphrase");
  EXPECT_EQ(ReadFromPipe("two lines\nof passphrase\n\n"), "two lines\nof passphrase\n");
  EXPECT_EQ(ReadFromPipe(" spaces kept \n"), " spaces kept ");
  EXPECT_EQ(ReadFromPipe(std::string("nul\0inside", 10)), std::string("nul\0inside", 10));
}

TEST(ReadSecretFromFd, EmptyInputIsEmpty) {
  absl::StatusCode code;
  EXPECT_EQ(ReadFromPipe("", &code), "");
  EXPECT_EQ(code, absl::StatusCode::kOk);
  EXPECT_EQ(ReadFromPipe("\n", &code), "");
}

TEST(ReadSecretFromFd, AtMostTheBoundAndNeverTruncated) {
  absl::StatusCode code;
  EXPECT_EQ(ReadFromPipe(std::string(kMaxPassphraseBytes, 'p'), &code).size(), kMaxPassphraseBytes);
  EXPECT_EQ(code, absl::StatusCode::kOk);
  // The bound is on the input, line feed included.
  ReadFromPipe(std::string(kMaxPassphraseBytes, 'p') + "\n", &code);
  EXPECT_EQ(code, absl::StatusCode::kInvalidArgument);
  const std::string over = ReadFromPipe(std::string(kMaxPassphraseBytes + 1, 'p'), &code);
  EXPECT_EQ(code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over, HasSubstr("--passphrase-fd 7: larger than 4096 bytes"));
  ReadFromPipe(std::string(60000, 'p'), &code);
  EXPECT_EQ(code, absl::StatusCode::kInvalidArgument);
}

TEST(ReadSecretFromFd, ClosedOrWriteOnlyDescriptorIsRefusedNamingIt) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  absl::StatusOr<base::SecretBytes> closed = ReadSecretFromFd(fds[0], "--passphrase-fd 3");
  ASSERT_FALSE(closed.ok());
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("--passphrase-fd 3: cannot read"));
  absl::StatusOr<base::SecretBytes> write_end = ReadSecretFromFd(fds[1], "--passphrase-fd 4");
  close(fds[1]);
  ASSERT_FALSE(write_end.ok());
  EXPECT_THAT(std::string(write_end.status().message()), HasSubstr("--passphrase-fd 4"));
  EXPECT_FALSE(ReadSecretFromFd(-1, "--passphrase-fd -1").ok());
}

TEST(ReadSecretFile, ReadsAFileAndNamesTheFlagWhenItCannot) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("quorum-terminal-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pass") << "a long enough passphrase\n";
  absl::StatusOr<base::SecretBytes> read = ReadSecretFile((dir / "pass").string(), "--passphrase-file");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->view(), "a long enough passphrase");
  absl::StatusOr<base::SecretBytes> missing = ReadSecretFile((dir / "missing").string(), "--passphrase-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--passphrase-file: cannot open"));
  // A directory opens but cannot be read.
  absl::StatusOr<base::SecretBytes> directory = ReadSecretFile(dir.string(), "--passphrase-file");
  EXPECT_FALSE(directory.ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringfence::quorum
