// Internal helper for building messages and rule paths: concatenates strings, string views and
// integers. (absl::StrCat here does not take std::string_view, which this module uses
// throughout.) Stateless; safe from any thread.
#ifndef RINGFENCE_POLICY_TEXT_H_
#define RINGFENCE_POLICY_TEXT_H_

#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace ringfence::policy::internal {

inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
template <typename T>
  requires std::same_as<T, absl::string_view> && (!std::same_as<absl::string_view, std::string_view>)
void AppendPiece(std::string& out, const T& s) {
  out.append(s.data(), s.size());
}
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void AppendPiece(std::string& out, T v) {
  out.append(std::to_string(v));
}

template <typename... T>
std::string Cat(const T&... pieces) {
  std::string out;
  (AppendPiece(out, pieces), ...);
  return out;
}

}  // namespace ringfence::policy::internal

#endif  // RINGFENCE_POLICY_TEXT_H_
