#include "custody/store/store.h"

#include <array>
#include <utility>

namespace ringfence::custody::store {
namespace {

constexpr std::array<std::pair<WhitelistState, std::string_view>, 5> kWhitelistStates = {{
    {WhitelistState::kPendingApproval, "pending_approval"},
    {WhitelistState::kActive, "active"},
    {WhitelistState::kRejected, "rejected"},
    {WhitelistState::kExpired, "expired"},
    {WhitelistState::kRemoved, "removed"},
}};

constexpr std::array<std::pair<WithdrawalState, std::string_view>, 10> kWithdrawalStates = {{
    {WithdrawalState::kDenied, "denied"},
    {WithdrawalState::kPendingApproval, "pending_approval"},
    {WithdrawalState::kApproved, "approved"},
    {WithdrawalState::kSigning, "signing"},
    {WithdrawalState::kSigned, "signed"},
    {WithdrawalState::kBroadcast, "broadcast"},
    {WithdrawalState::kConfirmed, "confirmed"},
    {WithdrawalState::kRejected, "rejected"},
    {WithdrawalState::kCancelled, "cancelled"},
    {WithdrawalState::kFailed, "failed"},
}};

constexpr std::array<std::pair<FreezeState, std::string_view>, 2> kFreezeStates = {{
    {FreezeState::kFrozen, "frozen"},
    {FreezeState::kLifted, "lifted"},
}};

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view WhitelistStateName(WhitelistState state) { return NameOf(kWhitelistStates, state); }
std::optional<WhitelistState> ParseWhitelistState(std::string_view name) { return ValueOf(kWhitelistStates, name); }
std::string_view FreezeStateName(FreezeState state) { return NameOf(kFreezeStates, state); }
std::string_view WithdrawalStateName(WithdrawalState state) { return NameOf(kWithdrawalStates, state); }
std::optional<WithdrawalState> ParseWithdrawalState(std::string_view name) { return ValueOf(kWithdrawalStates, name); }

bool IsFinal(WithdrawalState state) {
  switch (state) {
    case WithdrawalState::kDenied:
    case WithdrawalState::kConfirmed:
    case WithdrawalState::kRejected:
    case WithdrawalState::kCancelled:
    case WithdrawalState::kFailed:
      return true;
    default:
      return false;
  }
}

}  // namespace ringfence::custody::store
