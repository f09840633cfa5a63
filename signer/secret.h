// SecretBytes: a move-only byte buffer for secrets (PINs) in sodium_malloc'ed memory.
//
// The buffer is guarded by libsodium (guard pages, canary) and wiped with sodium_memzero
// before it is freed, on Wipe() and on destruction. It owns its memory; not thread-safe.
#ifndef RINGFENCE_SIGNER_SECRET_H_
#define RINGFENCE_SIGNER_SECRET_H_

#include <cstddef>
#include <cstdint>

namespace ringfence::signer {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates `size` zeroed bytes. Aborts if libsodium cannot allocate (out of memory).
  explicit SecretBytes(size_t size);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Shortens the logical size (the tail is wiped); never grows.
  void Truncate(size_t size);
  // Wipes and frees the buffer; size() becomes 0.
  void Wipe();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_SECRET_H_
