// Message text: Cat() joins text and integers into a std::string, and Clip() quotes a short,
// printable prefix of outside input for an error message or a log line.
//
// Debian's abseil keeps its own string_view type, so absl::StrCat does not take
// std::string_view; Cat() fills that gap for every module. Pure functions; thread-safe.
#ifndef RINGFENCE_BASE_TEXT_H_
#define RINGFENCE_BASE_TEXT_H_

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace ringfence::base {

namespace text_internal {
inline void Append(std::string* out, std::string_view s) { out->append(s); }
inline void Append(std::string* out, const std::string& s) { out->append(s); }
inline void Append(std::string* out, const char* s) { out->append(s); }
inline void Append(std::string* out, char c) { out->push_back(c); }
template <typename T>
  requires std::same_as<T, absl::string_view> &&
           (!std::same_as<absl::string_view, std::string_view>)
void Append(std::string* out, const T& s) {
  out->append(s.data(), s.size());
}
template <typename T>
  requires(std::integral<T> && !std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string* out, T v) {
  out->append(std::to_string(v));
}
}  // namespace text_internal

// Concatenates std/absl string views, strings, C strings, chars and integers.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (text_internal::Append(&out, args), ...);
  return out;
}

// The longest prefix of outside input that any message or log entry quotes.
inline constexpr size_t kClipLength = 32;

// `text` in double quotes, at most `max` bytes of it, each byte outside printable ASCII (and
// '"' and '\\') shown as '?', followed by "...(N bytes)" when it was longer. An error about a
// 1 MiB field therefore stays a short line.
std::string Clip(std::string_view text, size_t max = kClipLength);

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_TEXT_H_
