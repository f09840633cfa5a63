#include "signer/secret.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "signer/check.h"

namespace ringfence::signer {

void CheckFailed(const char* file, int line, const char* condition, std::string_view message) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s: %.*s\n", file, line, condition,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

SecretBytes::SecretBytes(size_t size) {
  RINGFENCE_SIGNER_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  // sodium_malloc(0) is valid but returns a pointer we still have to free; keep it uniform.
  data_ = static_cast<uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
  RINGFENCE_SIGNER_CHECK(data_ != nullptr, "sodium_malloc failed");
  sodium_memzero(data_, size == 0 ? 1 : size);
  size_ = size;
}

SecretBytes::~SecretBytes() { Wipe(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::Truncate(size_t size) {
  if (size >= size_) return;
  sodium_memzero(data_ + size, size_ - size);
  size_ = size;
}

void SecretBytes::Wipe() {
  if (data_ != nullptr) {
    // sodium_free wipes the whole allocation before releasing it.
    sodium_free(data_);
    data_ = nullptr;
  }
  size_ = 0;
}

}  // namespace ringfence::signer
