// SecureBuffer: a fixed-size byte buffer for secrets (PIN-derived keys, the token master key,
// private keys). The memory comes from sodium_malloc (guard pages, locked where the system
// allows) and is wiped by sodium_free when the buffer is destroyed, including during stack
// unwinding. The buffer owns its memory; it is movable, not copyable. Not thread-safe:
// share it read-only (for example through a shared_ptr<const SecureBuffer>) once filled.
#ifndef RINGFENCE_HSM_SIM_SECURE_BUFFER_H_
#define RINGFENCE_HSM_SIM_SECURE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include <sodium.h>

namespace ringfence::hsm_sim {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  // Throws std::bad_alloc if sodium_malloc fails; PKCS#11 entry points turn that into
  // CKR_HOST_MEMORY.
  explicit SecureBuffer(size_t size) : size_(size) {
    data_ = static_cast<uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
    if (data_ == nullptr) throw std::bad_alloc();
    sodium_memzero(data_, size_ == 0 ? 1 : size_);
  }
  ~SecureBuffer() { Reset(); }
  SecureBuffer(SecureBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  SecureBuffer& operator=(SecureBuffer&& other) noexcept {
    if (this != &other) {
      Reset();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return data_ == nullptr; }

  // sodium_free wipes the memory before releasing it.
  void Reset() {
    if (data_ != nullptr) sodium_free(data_);
    data_ = nullptr;
    size_ = 0;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_SECURE_BUFFER_H_
