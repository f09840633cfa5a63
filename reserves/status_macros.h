// Early-return helpers for absl::Status / absl::StatusOr inside tools/reserves.
#ifndef RINGFENCE_RESERVES_STATUS_MACROS_H_
#define RINGFENCE_RESERVES_STATUS_MACROS_H_

#include <concepts>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ringfence::reserves {
namespace cat_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
template <std::integral T>
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace cat_internal

// Concatenates strings (std or absl views) and integers; absl::StrCat here does not take
// std::string_view because this abseil build has its own string_view type.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (cat_internal::Append(out, args), ...);
  return out;
}
}  // namespace ringfence::reserves

#define RF_CONCAT_INNER(a, b) a##b
#define RF_CONCAT(a, b) RF_CONCAT_INNER(a, b)

// RF_ASSIGN(lhs, expr): evaluates the StatusOr `expr`, returns its status on error, else
// assigns (or declares) `lhs` from its value.
#define RF_ASSIGN(lhs, expr) RF_ASSIGN_IMPL(RF_CONCAT(rf_status_or_, __LINE__), lhs, expr)
#define RF_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                   \
  if (!tmp.ok()) return tmp.status();  \
  lhs = *std::move(tmp)

#define RF_RETURN_IF_ERROR(expr)          \
  do {                                    \
    absl::Status rf_status_ = (expr);     \
    if (!rf_status_.ok()) return rf_status_; \
  } while (0)

#endif  // RINGFENCE_RESERVES_STATUS_MACROS_H_
