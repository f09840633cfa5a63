// SecretBytes: a move-only byte buffer for secrets (PINs, passphrases, seeds, PIN-derived and
// master keys) in sodium_malloc'ed memory.
//
// libsodium guards the allocation (guard pages, a canary, locked where the system allows) and
// sodium_free wipes it before release: on Wipe(), on move-assignment over it and on
// destruction, including during stack unwinding. The buffer owns its memory; it is movable,
// never copyable. Not thread-safe: share it read-only once filled.
#ifndef RINGFENCE_BASE_SECRET_H_
#define RINGFENCE_BASE_SECRET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringfence::base {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates `size` zeroed bytes. Throws std::bad_alloc if libsodium cannot initialise or
  // allocate (the allocation is null-checked); PKCS#11 entry points turn that into
  // CKR_HOST_MEMORY and gRPC handlers into RESOURCE_EXHAUSTED.
  explicit SecretBytes(size_t size);
  // A copy of `bytes` in guarded memory (the caller wipes its own copy).
  static SecretBytes CopyOf(std::span<const uint8_t> bytes);
  static SecretBytes CopyOf(std::string_view text);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  // The bytes as text (a PIN or passphrase). The view dies with the buffer.
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // Shortens the logical size (the tail is wiped at once); never grows.
  void Truncate(size_t size);
  // Wipes and frees the buffer; size() becomes 0.
  void Wipe();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Wipes memory that is not a SecretBytes (a stack array, a std::string a library handed us)
// in a way the compiler does not optimise away.
void Wipe(void* data, size_t size);

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_SECRET_H_
