// Message building for signer/tx errors: Cat() concatenates text (std::string_view,
// std::string, C strings, chars) and integers into a std::string. Debian's abseil keeps its own
// string_view type, so absl::StrCat does not take std::string_view; this fills that gap.
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_SIGNER_TX_TEXT_H_
#define RINGFENCE_SIGNER_TX_TEXT_H_

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace ringfence::signer::tx {

namespace text_internal {
inline void Append(std::string* out, std::string_view s) { out->append(s); }
inline void Append(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
inline void Append(std::string* out, const std::string& s) { out->append(s); }
inline void Append(std::string* out, const char* s) { out->append(s); }
inline void Append(std::string* out, char c) { out->push_back(c); }
template <typename T>
  requires(std::integral<T> && !std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string* out, T v) {
  out->append(std::to_string(v));
}
}  // namespace text_internal

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (text_internal::Append(&out, args), ...);
  return out;
}

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_TEXT_H_
