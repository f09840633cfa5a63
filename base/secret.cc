#include "base/secret.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "base/check.h"

namespace ringfence::base {

void CheckFailed(const char* file, int line, const char* condition, std::string_view message) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s: %.*s\n", file, line, condition,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

SecretBytes::SecretBytes(size_t size) {
  if (sodium_init() < 0) throw std::bad_alloc();
  // sodium_malloc(0) may return a pointer that still has to be freed: keep it uniform.
  const size_t allocated = size == 0 ? 1 : size;
  data_ = static_cast<uint8_t*>(sodium_malloc(allocated));
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, allocated);
  size_ = size;
}

SecretBytes SecretBytes::CopyOf(std::span<const uint8_t> bytes) {
  SecretBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecretBytes SecretBytes::CopyOf(std::string_view text) {
  return CopyOf(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
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
  // sodium_free wipes the whole allocation before releasing it.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
}

void Wipe(void* data, size_t size) {
  if (data != nullptr && size > 0) sodium_memzero(data, size);
}

}  // namespace ringfence::base
