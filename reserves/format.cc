#include "reserves/format.h"

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::reserves {

namespace {

absl::Status Bad(std::string_view where, std::string_view why) {
  return absl::InvalidArgumentError(base::Cat(where, ": ", why));
}

// One part of a proof entry: schema and encodings; its path at most 48 levels.
absl::StatusOr<ProofPart> ParseProofPart(const Json& pj, const std::string& pw) {
  RF_RETURN_IF_ERROR(ExpectObject(pj, pw, {"index", "part_index", "part_count", "salt", "amount", "path"}));
  ProofPart part;
  RF_ASSIGN_OR_RETURN(part.index, GetInteger(pj, "index", pw, kMaxJsonInteger));
  RF_ASSIGN_OR_RETURN(uint64_t part_index, GetInteger(pj, "part_index", pw, 65535));
  RF_ASSIGN_OR_RETURN(uint64_t part_count, GetInteger(pj, "part_count", pw, 65535));
  part.part_index = static_cast<int>(part_index);
  part.part_count = static_cast<int>(part_count);
  RF_ASSIGN_OR_RETURN(part.salt, GetHash(pj, "salt", pw));
  RF_ASSIGN_OR_RETURN(part.amount, GetAmount(pj, "amount", pw));
  RF_ASSIGN_OR_RETURN(const Json* path, GetArray(pj, "path", pw));
  if (path->size() > kMaxDepth) return Bad(pw + ".path", "longer than 48 levels");
  for (size_t h = 0; h < path->size(); ++h) {
    const Json& nj = (*path)[h];
    std::string nw = base::Cat(pw, ".path[", h, "]");
    RF_RETURN_IF_ERROR(ExpectObject(nj, nw, {"hash", "sum"}));
    Node node;
    RF_ASSIGN_OR_RETURN(Hash32 hash, GetHash(nj, "hash", nw));
    std::copy(hash.begin(), hash.end(), node.hash);
    RF_ASSIGN_OR_RETURN(node.sum, GetAmount(nj, "sum", nw));
    part.path.push_back(node);
  }
  return part;
}

}  // namespace

Hash32 RootCommit(const Hash32& snapshot_id, const AssetCommit& a) {
  ByteWriter w;
  w.Bytes(snapshot_id).Str(a.asset_id).U8(static_cast<uint8_t>(a.decimals)).U8(static_cast<uint8_t>(a.depth));
  w.U64(a.n_leaves).Bytes(a.root_hash).U128(a.root_sum);
  return RootTag().Hash(w.span());
}

Hash32 ComputeManifestDigest(const Manifest& m) {
  ByteWriter w;
  w.U16(1).Str(m.custodian_id).Bytes(m.snapshot_id).U64(m.snapshot_time).Bytes(m.auditor_challenge);
  w.U32(static_cast<uint32_t>(m.assets.size()));
  for (const AssetCommit& a : m.assets) {
    w.Bytes(RootCommit(m.snapshot_id, a)).U128(a.reserves_total).Bytes(a.reserves_digest);
  }
  return ManifestTag().Hash(w.span());
}

std::string ManifestToJson(const Manifest& m) {
  Json assets = Json::array();
  for (const AssetCommit& a : m.assets) {
    assets.push_back({{"asset_id", a.asset_id},
                      {"decimals", a.decimals},
                      {"depth", a.depth},
                      {"n_leaves", a.n_leaves},
                      {"root_hash", base::HexEncode(a.root_hash)},
                      {"root_sum", a.root_sum.ToBaseUnitString()},
                      {"reserves_total", a.reserves_total.ToBaseUnitString()},
                      {"reserves_digest", base::HexEncode(a.reserves_digest)}});
  }
  Json j = {{"format", std::string(kManifestFormat)},
            {"custodian_id", m.custodian_id},
            {"snapshot_id", base::HexEncode(m.snapshot_id)},
            {"snapshot_time", m.snapshot_time},
            {"auditor_challenge", base::HexEncode(m.auditor_challenge)},
            {"assets", assets},
            {"manifest_digest", base::HexEncode(m.manifest_digest)},
            {"signature",
             {{"alg", "ed25519"}, {"public_key", base::HexEncode(m.public_key)}, {"sig", base::HexEncode(m.signature)}}}};
  return DumpCompact(j);
}

absl::StatusOr<Manifest> ParseManifest(std::string_view text) {
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, "manifest.json"));
  const std::string w = "manifest";
  RF_RETURN_IF_ERROR(ExpectObject(j, w,
                                  {"format", "custodian_id", "snapshot_id", "snapshot_time", "auditor_challenge",
                                   "assets", "manifest_digest", "signature"}));
  Manifest m;
  RF_ASSIGN_OR_RETURN(std::string format, GetString(j, "format", w));
  if (format != kManifestFormat) {
    return Bad("manifest.format", base::Cat("unknown version ", base::Clip(format), " (expected ", kManifestFormat, ")"));
  }
  RF_ASSIGN_OR_RETURN(m.custodian_id, GetId(j, "custodian_id", w));
  RF_ASSIGN_OR_RETURN(m.snapshot_id, GetHash(j, "snapshot_id", w));
  RF_ASSIGN_OR_RETURN(m.snapshot_time, GetInteger(j, "snapshot_time", w, kMaxJsonInteger));
  RF_ASSIGN_OR_RETURN(m.auditor_challenge, GetHash(j, "auditor_challenge", w));
  RF_ASSIGN_OR_RETURN(m.manifest_digest, GetHash(j, "manifest_digest", w));
  RF_ASSIGN_OR_RETURN(const Json* assets, GetArray(j, "assets", w));
  if (assets->empty()) return Bad("manifest.assets", "must list at least one asset");
  if (assets->size() > 65535) return Bad("manifest.assets", "too many assets");
  for (size_t i = 0; i < assets->size(); ++i) {
    const Json& aj = (*assets)[i];
    std::string aw = base::Cat("manifest.assets[", i, "]");
    RF_RETURN_IF_ERROR(ExpectObject(aj, aw,
                                    {"asset_id", "decimals", "depth", "n_leaves", "root_hash", "root_sum",
                                     "reserves_total", "reserves_digest"}));
    AssetCommit a;
    RF_ASSIGN_OR_RETURN(a.asset_id, GetId(aj, "asset_id", aw));
    RF_ASSIGN_OR_RETURN(uint64_t decimals, GetInteger(aj, "decimals", aw, 255));
    RF_ASSIGN_OR_RETURN(uint64_t depth, GetInteger(aj, "depth", aw, kMaxDepth));
    if (depth < 1) return Bad(aw + ".depth", "must be 1..48");
    RF_ASSIGN_OR_RETURN(a.n_leaves, GetInteger(aj, "n_leaves", aw, kMaxJsonInteger));
    if (a.n_leaves < 1 || a.n_leaves > (uint64_t{1} << depth)) return Bad(aw + ".n_leaves", "must be 1..2^depth");
    a.decimals = static_cast<int>(decimals);
    a.depth = static_cast<int>(depth);
    RF_ASSIGN_OR_RETURN(a.root_hash, GetHash(aj, "root_hash", aw));
    RF_ASSIGN_OR_RETURN(a.root_sum, GetAmount(aj, "root_sum", aw));
    RF_ASSIGN_OR_RETURN(a.reserves_total, GetAmount(aj, "reserves_total", aw));
    RF_ASSIGN_OR_RETURN(a.reserves_digest, GetHash(aj, "reserves_digest", aw));
    if (!m.assets.empty() && !(m.assets.back().asset_id < a.asset_id)) {
      return Bad(aw + ".asset_id", "assets must be in ascending asset_id order without duplicates");
    }
    m.assets.push_back(std::move(a));
  }
  const Json& sj = j["signature"];
  RF_RETURN_IF_ERROR(ExpectObject(sj, "manifest.signature", {"alg", "public_key", "sig"}));
  RF_ASSIGN_OR_RETURN(std::string alg, GetString(sj, "alg", "manifest.signature"));
  if (alg != "ed25519") return Bad("manifest.signature.alg", "must be \"ed25519\"");
  RF_ASSIGN_OR_RETURN(m.public_key, GetHash(sj, "public_key", "manifest.signature"));
  RF_RETURN_IF_ERROR(GetHexInto(sj, "sig", "manifest.signature", m.signature));
  return m;
}

std::string_view ProofTypeName(ProofType t) {
  switch (t) {
    case ProofType::kBip322Simple:
      return "bip322-simple";
    case ProofType::kEip191:
      return "eip191";
    case ProofType::kEd25519:
      return "ed25519";
  }
  return "?";
}

std::string OwnershipMessage(std::string_view custodian_id, const Hash32& snapshot_id, const Hash32& challenge,
                             std::string_view chain, std::string_view address) {
  return base::Cat("custody-por/1|custodian=", custodian_id, "|snapshot=", base::HexEncode(snapshot_id),
                      "|challenge=", base::HexEncode(challenge), "|chain=", chain, "|address=", address);
}

Hash32 EntryDigest(const ReserveEntry& e) {
  ByteWriter own;
  own.Str(ProofTypeName(e.type));
  own.Blob(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(e.message.data()), e.message.size()));
  own.Blob(e.signature);
  Hash32 ownership = OwnershipTag().Hash(own.span());
  ByteWriter w;
  w.Str(e.chain).Str(e.token).Str(e.address).U64(e.height).Bytes(e.block_hash).U128(e.balance).Bytes(ownership);
  return ReserveEntryTag().Hash(w.span());
}

Hash32 ReservesDigest(const Hash32& snapshot_id, std::string_view asset_id, const std::vector<ReserveEntry>& entries) {
  ByteWriter w;
  w.Bytes(snapshot_id).Str(asset_id).U32(static_cast<uint32_t>(entries.size()));
  for (const ReserveEntry& e : entries) w.Bytes(EntryDigest(e));
  return ReservesTag().Hash(w.span());
}

bool EntryLess(const ReserveEntry& a, const ReserveEntry& b) {
  if (a.chain != b.chain) return a.chain < b.chain;
  if (a.token != b.token) return a.token < b.token;
  return a.address < b.address;
}

Json ReserveEntryToJson(const ReserveEntry& e) {
  return Json{{"chain", e.chain},
              {"token", e.token},
              {"address", e.address},
              {"height", e.height},
              {"block_hash", base::HexEncode(e.block_hash)},
              {"balance", e.balance.ToBaseUnitString()},
              {"proof", {{"type", std::string(ProofTypeName(e.type))}, {"message", e.message}, {"signature", e.signature_text}}}};
}

absl::StatusOr<ReserveEntry> ParseReserveEntry(const Json& j, std::string_view where) {
  std::string w(where);
  RF_RETURN_IF_ERROR(ExpectObject(j, w, {"chain", "token", "address", "height", "block_hash", "balance", "proof"}));
  ReserveEntry e;
  RF_ASSIGN_OR_RETURN(e.chain, GetString(j, "chain", w));
  RF_ASSIGN_OR_RETURN(e.token, GetString(j, "token", w));
  RF_ASSIGN_OR_RETURN(e.address, GetString(j, "address", w));
  for (auto [name, value] : {std::pair<std::string_view, const std::string*>{"chain", &e.chain},
                             {"token", &e.token},
                             {"address", &e.address}}) {
    if (!IsStrEncodable(*value)) return Bad(base::Cat(w, ".", name), "must be 1..1024 characters 0x21-0x7e");
  }
  RF_ASSIGN_OR_RETURN(e.height, GetInteger(j, "height", w, kMaxJsonInteger));
  RF_ASSIGN_OR_RETURN(e.block_hash, GetHash(j, "block_hash", w));
  RF_ASSIGN_OR_RETURN(e.balance, GetAmount(j, "balance", w));
  const Json& pj = j["proof"];
  std::string pw = w + ".proof";
  RF_RETURN_IF_ERROR(ExpectObject(pj, pw, {"type", "message", "signature"}));
  RF_ASSIGN_OR_RETURN(std::string type, GetString(pj, "type", pw));
  RF_ASSIGN_OR_RETURN(e.message, GetString(pj, "message", pw));
  RF_ASSIGN_OR_RETURN(e.signature_text, GetString(pj, "signature", pw));
  if (e.message.size() > 4096) return Bad(pw + ".message", "longer than 4096 bytes");
  for (unsigned char c : e.message) {
    if (c < 0x20 || c > 0x7E) return Bad(pw + ".message", "must be printable ASCII");
  }
  if (type == "ed25519" || type == "eip191") {
    e.type = type == "ed25519" ? ProofType::kEd25519 : ProofType::kEip191;
    size_t len = e.type == ProofType::kEd25519 ? 64 : 65;
    e.signature.resize(len);
    if (!base::HexDecodeInto(e.signature_text, e.signature, pw + ".signature", base::HexCase::kLowerOnly).ok()) {
      return Bad(pw + ".signature", base::Cat("must be exactly ", len * 2, " lowercase hex characters"));
    }
  } else if (type == "bip322-simple") {
    e.type = ProofType::kBip322Simple;
    if (e.signature_text.size() > 4096 || !Base64Decode(e.signature_text, &e.signature) || e.signature.empty()) {
      return Bad(pw + ".signature", "must be canonical base64 of a witness (at most 4096 characters)");
    }
  } else {
    return Bad(pw + ".type", "must be bip322-simple, eip191 or ed25519");
  }
  return e;
}

std::string ReserveEntriesToJson(const std::vector<ReserveEntry>& entries) {
  Json arr = Json::array();
  for (const ReserveEntry& e : entries) arr.push_back(ReserveEntryToJson(e));
  return DumpCompact(arr);
}

absl::StatusOr<std::vector<ReserveEntry>> ParseReserveEntries(std::string_view text, std::string_view what) {
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, what));
  if (!j.is_array()) return Bad(what, "must be a JSON array of reserve entries");
  std::vector<ReserveEntry> out;
  for (size_t i = 0; i < j.size(); ++i) {
    RF_ASSIGN_OR_RETURN(ReserveEntry e, ParseReserveEntry(j[i], base::Cat(what, "[", i, "]")));
    out.push_back(std::move(e));
  }
  return out;
}

std::string InclusionProofToJson(const InclusionProof& p) {
  Json entries = Json::array();
  for (const ProofEntry& e : p.entries) {
    Json parts = Json::array();
    for (const ProofPart& part : e.parts) {
      Json path = Json::array();
      for (const Node& n : part.path) {
        path.push_back({{"hash", base::HexEncode(n.hash)}, {"sum", n.sum.ToBaseUnitString()}});
      }
      parts.push_back({{"index", part.index},
                       {"part_index", part.part_index},
                       {"part_count", part.part_count},
                       {"salt", base::HexEncode(part.salt)},
                       {"amount", part.amount.ToBaseUnitString()},
                       {"path", path}});
    }
    entries.push_back({{"asset_id", e.asset_id},
                       {"decimals", e.decimals},
                       {"depth", e.depth},
                       {"n_leaves", e.n_leaves},
                       {"root_hash", base::HexEncode(e.root_hash)},
                       {"root_sum", e.root_sum.ToBaseUnitString()},
                       {"parts", parts}});
  }
  Json j = {{"format", std::string(kInclusionFormat)},
            {"custodian_id", p.custodian_id},
            {"snapshot_id", base::HexEncode(p.snapshot_id)},
            {"manifest_digest", base::HexEncode(p.manifest_digest)},
            {"client_account_id", p.client_account_id},
            {"entries", entries}};
  return DumpCompact(j);
}

absl::StatusOr<InclusionProof> ParseInclusionProof(std::string_view text) {
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, "inclusion proof"));
  const std::string w = "proof";
  RF_RETURN_IF_ERROR(ExpectObject(
      j, w, {"format", "custodian_id", "snapshot_id", "manifest_digest", "client_account_id", "entries"}));
  InclusionProof p;
  RF_ASSIGN_OR_RETURN(std::string format, GetString(j, "format", w));
  if (format != kInclusionFormat) {
    return Bad("proof.format", base::Cat("unknown version ", base::Clip(format), " (expected ", kInclusionFormat, ")"));
  }
  RF_ASSIGN_OR_RETURN(p.custodian_id, GetId(j, "custodian_id", w));
  RF_ASSIGN_OR_RETURN(p.snapshot_id, GetHash(j, "snapshot_id", w));
  RF_ASSIGN_OR_RETURN(p.manifest_digest, GetHash(j, "manifest_digest", w));
  RF_ASSIGN_OR_RETURN(p.client_account_id, GetId(j, "client_account_id", w));
  RF_ASSIGN_OR_RETURN(const Json* entries, GetArray(j, "entries", w));
  if (entries->empty()) return Bad("proof.entries", "must hold at least one asset");
  if (entries->size() > 65535) return Bad("proof.entries", "too many assets");
  for (size_t i = 0; i < entries->size(); ++i) {
    const Json& ej = (*entries)[i];
    std::string ew = base::Cat("proof.entries[", i, "]");
    RF_RETURN_IF_ERROR(
        ExpectObject(ej, ew, {"asset_id", "decimals", "depth", "n_leaves", "root_hash", "root_sum", "parts"}));
    ProofEntry e;
    RF_ASSIGN_OR_RETURN(e.asset_id, GetId(ej, "asset_id", ew));
    RF_ASSIGN_OR_RETURN(uint64_t decimals, GetInteger(ej, "decimals", ew, 255));
    RF_ASSIGN_OR_RETURN(uint64_t depth, GetInteger(ej, "depth", ew, kMaxDepth));
    e.decimals = static_cast<int>(decimals);
    e.depth = static_cast<int>(depth);
    RF_ASSIGN_OR_RETURN(e.n_leaves, GetInteger(ej, "n_leaves", ew, kMaxJsonInteger));
    RF_ASSIGN_OR_RETURN(e.root_hash, GetHash(ej, "root_hash", ew));
    RF_ASSIGN_OR_RETURN(e.root_sum, GetAmount(ej, "root_sum", ew));
    RF_ASSIGN_OR_RETURN(const Json* parts, GetArray(ej, "parts", ew));
    if (parts->empty() || parts->size() > kMaxParts) return Bad(ew + ".parts", "must hold 1..16 parts");
    for (size_t k = 0; k < parts->size(); ++k) {
      RF_ASSIGN_OR_RETURN(ProofPart part, ParseProofPart((*parts)[k], base::Cat(ew, ".parts[", k, "]")));
      e.parts.push_back(std::move(part));
    }
    p.entries.push_back(std::move(e));
  }
  return p;
}

std::string Base64Encode(std::span<const uint8_t> b) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    uint32_t v = b[i] << 16 | b[i + 1] << 8 | b[i + 2];
    for (int k = 3; k >= 0; --k) out.push_back(kAlphabet[(v >> (6 * k)) & 63]);
  }
  if (b.size() - i == 1) {
    uint32_t v = b[i] << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (b.size() - i == 2) {
    uint32_t v = b[i] << 16 | b[i + 1] << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out += "=";
  }
  return out;
}

bool Base64Decode(std::string_view text, std::vector<uint8_t>* out) {
  out->clear();
  if (text.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = k >= 4 - pad ? 0 : value(text[i + k]);
      if (d < 0) return false;
      v = v << 6 | static_cast<uint32_t>(d);
    }
    // Canonical: the bits dropped by the padding are zero.
    if ((pad == 1 && (v & 0xFF) != 0) || (pad == 2 && (v & 0xFFFF) != 0)) return false;
    out->push_back(static_cast<uint8_t>(v >> 16));
    if (pad < 2) out->push_back(static_cast<uint8_t>(v >> 8));
    if (pad < 1) out->push_back(static_cast<uint8_t>(v));
  }
  return true;
}

}  // namespace ringfence::reserves
