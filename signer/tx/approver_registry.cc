#include "signer/tx/approver_registry.h"

#include <fstream>
#include <span>
#include <sstream>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/hashes.h"
#include "signer/request_limits.h"
#include "signer/tx/amount.h"
#include "signer/tx/toml_fields.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {

namespace tf = toml_fields;

bool ValidApproverId(std::string_view id) {
  if (id.empty() || id.size() > kMaxApproverIdBytes) return false;  // a request must carry it
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::array<uint8_t, 32>> ParseKeyHex(std::string_view hex, std::string_view where) {
  std::array<uint8_t, 32> key{};
  if (hex.size() != 2 * key.size()) {
    return absl::InvalidArgumentError(
        Cat(where, ": must be 64 hex digits (32-byte Ed25519 key), got ", hex.size()));
  }
  RF_RETURN_IF_ERROR(base::HexDecodeInto(hex, key, where));
  return key;
}

}  // namespace

absl::StatusOr<ApproverRegistry> ApproverRegistry::Parse(std::string_view toml_text) {
  auto parsed = tf::ParseText(toml_text, "approver registry");
  if (!parsed.ok()) return parsed.status();
  const toml::table& root = *parsed;
  if (auto st = tf::OnlyKeys(root, "", {"approver", "quorum", "cold_address"}); !st.ok()) return st;

  ApproverRegistry reg;
  std::set<std::array<uint8_t, 32>> keys_seen;
  const toml::array* approvers = root["approver"].as_array();
  if (approvers == nullptr || approvers->empty()) {
    return absl::InvalidArgumentError("approver: at least one [[approver]] entry is required");
  }
  for (size_t i = 0; i < approvers->size(); ++i) {
    const std::string path = Cat("approver[", i, "]");
    const toml::table* t = approvers->get(i)->as_table();
    if (t == nullptr) return absl::InvalidArgumentError(Cat(path, ": must be a table"));
    if (auto st = tf::OnlyKeys(*t, path, {"id", "public_key"}); !st.ok()) return st;
    auto id = tf::String(*t, path, "id");
    if (!id.ok()) return id.status();
    if (!ValidApproverId(*id)) {
      return absl::InvalidArgumentError(Cat(
          path, ".id: \"", *id, "\" must be 1-64 characters of A-Z a-z 0-9 . _ - @"));
    }
    auto hex = tf::String(*t, path, "public_key");
    if (!hex.ok()) return hex.status();
    auto key = ParseKeyHex(*hex, path + ".public_key");
    if (!key.ok()) return key.status();
    if (reg.approvers_.count(*id) != 0) {
      return absl::InvalidArgumentError(Cat(path, ".id: duplicate approver \"", *id, "\""));
    }
    // One key under two ids would let one person count twice towards a quorum.
    if (!keys_seen.insert(*key).second) {
      return absl::InvalidArgumentError(
          Cat(path, ".public_key: the same key is registered for another approver"));
    }
    reg.approvers_.emplace(*id, *key);
  }
  const int approver_count = static_cast<int>(reg.approvers_.size());

  if (const toml::node* q = root.get("quorum")) {
    const toml::table* qt = q->as_table();
    if (qt == nullptr) return absl::InvalidArgumentError("quorum: must be a table of assets");
    for (const auto& [asset_key, node] : *qt) {
      const std::string asset(asset_key.str());
      const std::string path = Cat("quorum.", asset);
      const toml::table* at = node.as_table();
      if (at == nullptr) return absl::InvalidArgumentError(Cat(path, ": must be a table"));
      if (auto st = tf::OnlyKeys(*at, path, {"tiers", "internal_sweep_approvals"}); !st.ok()) {
        return st;
      }
      AssetQuorum aq;
      auto sweep = tf::Integer(*at, path, "internal_sweep_approvals");
      if (!sweep.ok()) return sweep.status();
      if (*sweep < 0 || *sweep > approver_count) {
        return absl::InvalidArgumentError(Cat(path, ".internal_sweep_approvals: ", *sweep,
                                                       " is not within 0..", approver_count,
                                                       " (the number of approvers)"));
      }
      aq.internal_sweep_approvals = static_cast<int>(*sweep);
      const toml::array* tiers = at->get("tiers") ? at->get("tiers")->as_array() : nullptr;
      if (tiers == nullptr || tiers->empty()) {
        return absl::InvalidArgumentError(Cat(path, ".tiers: missing or empty"));
      }
      for (size_t i = 0; i < tiers->size(); ++i) {
        const std::string tpath = Cat(path, ".tiers[", i, "]");
        const toml::table* tt = tiers->get(i)->as_table();
        if (tt == nullptr) return absl::InvalidArgumentError(Cat(tpath, ": must be a table"));
        if (auto st = tf::OnlyKeys(*tt, tpath, {"from", "approvals"}); !st.ok()) return st;
        auto from_text = tf::String(*tt, tpath, "from");
        if (!from_text.ok()) return from_text.status();
        auto from = ParseAmountField(*from_text, tpath + ".from");
        if (!from.ok()) return from.status();
        auto approvals = tf::Integer(*tt, tpath, "approvals");
        if (!approvals.ok()) return approvals.status();
        if (*approvals < 0 || *approvals > approver_count) {
          return absl::InvalidArgumentError(Cat(tpath, ".approvals: ", *approvals,
                                                         " is not within 0..", approver_count,
                                                         " (the number of approvers)"));
        }
        if (i == 0 && !from->is_zero()) {
          return absl::InvalidArgumentError(Cat(tpath, ".from: the first tier must start at \"0\""));
        }
        if (i > 0 && *from <= aq.tiers.back().from) {
          return absl::InvalidArgumentError(
              Cat(tpath, ".from: tiers must be in strictly increasing order of from"));
        }
        aq.tiers.push_back({*from, static_cast<int>(*approvals)});
      }
      reg.quorum_.emplace(asset, std::move(aq));
    }
  }

  if (const toml::node* c = root.get("cold_address")) {
    const toml::array* arr = c->as_array();
    if (arr == nullptr) return absl::InvalidArgumentError("cold_address: must be an array of tables");
    for (size_t i = 0; i < arr->size(); ++i) {
      const std::string path = Cat("cold_address[", i, "]");
      const toml::table* t = arr->get(i)->as_table();
      if (t == nullptr) return absl::InvalidArgumentError(Cat(path, ": must be a table"));
      if (auto st = tf::OnlyKeys(*t, path, {"asset", "address"}); !st.ok()) return st;
      auto asset = tf::String(*t, path, "asset");
      if (!asset.ok()) return asset.status();
      auto address = tf::String(*t, path, "address");
      if (!address.ok()) return address.status();
      if (asset->empty() || address->empty()) {
        return absl::InvalidArgumentError(Cat(path, ": asset and address must not be empty"));
      }
      if (!reg.cold_addresses_.emplace(*asset, *address).second) {
        return absl::InvalidArgumentError(Cat(path, ": duplicate cold address"));
      }
    }
  }

  reg.sha256_hex_ = base::HexEncode(chain::Sha256(
      std::span(reinterpret_cast<const uint8_t*>(toml_text.data()), toml_text.size())));
  return reg;
}

absl::StatusOr<ApproverRegistry> ApproverRegistry::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(Cat("approver registry ", path.string(), ": cannot be read"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  auto reg = Parse(buffer.str());
  if (!reg.ok()) {
    return absl::InvalidArgumentError(
        Cat("approver registry ", path.string(), ": ", reg.status().message()));
  }
  return reg;
}

const std::array<uint8_t, 32>* ApproverRegistry::FindApprover(std::string_view approver_id) const {
  auto it = approvers_.find(approver_id);
  return it == approvers_.end() ? nullptr : &it->second;
}

absl::StatusOr<int> ApproverRegistry::RequiredApprovals(std::string_view asset, base::Amount amount,
                                                        bool internal_sweep) const {
  auto it = quorum_.find(asset);
  if (it == quorum_.end()) {
    return absl::PermissionDeniedError(
        Cat("approvals: the approver registry has no quorum rule for asset ", asset));
  }
  if (internal_sweep) return it->second.internal_sweep_approvals;
  int needed = it->second.tiers.front().approvals;
  for (const QuorumTier& tier : it->second.tiers) {
    if (amount >= tier.from) needed = tier.approvals;
  }
  return needed;
}

std::vector<std::string> ApproverRegistry::QuorumAssets() const {
  std::vector<std::string> out;
  for (const auto& [asset, rule] : quorum_) out.push_back(asset);
  return out;
}

bool ApproverRegistry::IsColdAddress(std::string_view asset, std::string_view address) const {
  return cold_addresses_.count({std::string(asset), std::string(address)}) != 0;
}

}  // namespace ringfence::signer::tx
