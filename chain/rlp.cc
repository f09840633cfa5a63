#include "chain/rlp.h"

#include "absl/strings/str_cat.h"

namespace ringfence::chain {
namespace {

void PutLength(std::vector<uint8_t>& out, size_t len, uint8_t short_base) {
  if (len <= 55) {
    out.push_back(static_cast<uint8_t>(short_base + len));
    return;
  }
  uint8_t be[8];
  int n = 0;
  for (size_t v = len; v != 0; v >>= 8) be[n++] = static_cast<uint8_t>(v);
  out.push_back(static_cast<uint8_t>(short_base + 55 + n));
  for (int i = n - 1; i >= 0; --i) out.push_back(be[i]);
}

absl::Status Error(size_t offset, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("RLP: ", what, " at offset ", offset));
}

// Decodes one item starting at data[pos], which must end by `end`; advances pos.
absl::StatusOr<RlpItem> DecodeItem(std::span<const uint8_t> data, size_t& pos, size_t end, int depth) {
  if (depth > kRlpMaxDepth) return Error(pos, absl::StrCat("nesting deeper than ", kRlpMaxDepth));
  if (pos >= end) return Error(pos, "item expected but input ends");
  const size_t start = pos;
  const uint8_t prefix = data[pos++];
  RlpItem item;
  if (prefix < 0x80) {
    item.bytes.push_back(prefix);
    return item;
  }
  const bool is_list = prefix >= 0xc0;
  const uint8_t base = is_list ? 0xc0 : 0x80;
  size_t len;
  if (prefix - base <= 55) {
    len = prefix - base;
  } else {
    size_t len_of_len = prefix - base - 55;
    if (end - pos < len_of_len) return Error(start, "length of length runs past the end");
    if (data[pos] == 0) return Error(start, "long-form length has a leading zero byte");
    if (len_of_len > 4) return Error(start, "length does not fit 32 bits");
    len = 0;
    for (size_t i = 0; i < len_of_len; ++i) len = (len << 8) | data[pos + i];
    pos += len_of_len;
    if (len <= 55) return Error(start, "long-form length used for 55 bytes or fewer");
  }
  if (end - pos < len) {
    return Error(start, absl::StrCat("payload of ", len, " bytes runs past the end (", end - pos, " left)"));
  }
  if (!is_list) {
    if (len == 1 && data[pos] < 0x80) return Error(start, "single byte below 0x80 must not be wrapped");
    item.bytes.assign(data.begin() + pos, data.begin() + pos + len);
    pos += len;
    return item;
  }
  item.is_list = true;
  const size_t list_end = pos + len;
  while (pos < list_end) {
    absl::StatusOr<RlpItem> child = DecodeItem(data, pos, list_end, depth + 1);
    if (!child.ok()) return child.status();
    item.items.push_back(std::move(*child));
  }
  return item;
}

absl::StatusOr<std::span<const uint8_t>> IntegerBytes(const RlpItem& item, std::string_view field, size_t max) {
  if (item.is_list) return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": expected an integer, got a list"));
  if (!item.bytes.empty() && item.bytes[0] == 0) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": integer has a leading zero byte"));
  }
  if (item.bytes.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": integer of ", item.bytes.size(), " bytes exceeds ", max * 8, " bits"));
  }
  return std::span<const uint8_t>(item.bytes);
}

}  // namespace

std::vector<uint8_t> RlpEncodeBytes(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> out;
  if (bytes.size() == 1 && bytes[0] < 0x80) {
    out.push_back(bytes[0]);
    return out;
  }
  out.reserve(bytes.size() + 9);
  PutLength(out, bytes.size(), 0x80);
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

std::vector<uint8_t> RlpEncodeList(const std::vector<std::vector<uint8_t>>& encoded_items) {
  size_t total = 0;
  for (const auto& e : encoded_items) total += e.size();
  std::vector<uint8_t> out;
  out.reserve(total + 9);
  PutLength(out, total, 0xc0);
  for (const auto& e : encoded_items) out.insert(out.end(), e.begin(), e.end());
  return out;
}

std::vector<uint8_t> RlpEncodeUint(uint64_t v) {
  std::vector<uint8_t> be;
  for (int shift = 56; shift >= 0; shift -= 8) {
    uint8_t b = static_cast<uint8_t>(v >> shift);
    if (be.empty() && b == 0) continue;
    be.push_back(b);
  }
  return RlpEncodeBytes(be);
}

std::vector<uint8_t> RlpEncodeU256(const U256& v) { return RlpEncodeBytes(v.MinimalBytes()); }

std::vector<uint8_t> RlpEncode(const RlpItem& item) {
  if (!item.is_list) return RlpEncodeBytes(item.bytes);
  std::vector<std::vector<uint8_t>> parts;
  parts.reserve(item.items.size());
  for (const RlpItem& child : item.items) parts.push_back(RlpEncode(child));
  return RlpEncodeList(parts);
}

absl::StatusOr<RlpItem> RlpDecode(std::span<const uint8_t> data) {
  size_t pos = 0;
  absl::StatusOr<RlpItem> item = DecodeItem(data, pos, data.size(), 0);
  if (!item.ok()) return item.status();
  if (pos != data.size()) {
    return Error(pos, absl::StrCat(data.size() - pos, " trailing bytes after the item"));
  }
  return item;
}

absl::StatusOr<uint64_t> RlpToUint64(const RlpItem& item, std::string_view field) {
  absl::StatusOr<std::span<const uint8_t>> bytes = IntegerBytes(item, field, 8);
  if (!bytes.ok()) return bytes.status();
  uint64_t v = 0;
  for (uint8_t b : *bytes) v = (v << 8) | b;
  return v;
}

absl::StatusOr<U256> RlpToU256(const RlpItem& item, std::string_view field) {
  absl::StatusOr<std::span<const uint8_t>> bytes = IntegerBytes(item, field, 32);
  if (!bytes.ok()) return bytes.status();
  return U256::FromBigEndian(*bytes, field);
}

absl::StatusOr<std::vector<uint8_t>> RlpToBytes(const RlpItem& item, std::string_view field) {
  if (item.is_list) return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": expected bytes, got a list"));
  return item.bytes;
}

}  // namespace ringfence::chain
