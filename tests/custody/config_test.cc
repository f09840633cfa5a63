// custodyd's configuration (strict TOML: every unknown, missing or out-of-range field named by
// its path), the role table of custody/auth.h against proto/custody.proto's "Roles:" comments,
// the certificate-to-role match, and deposit addresses derived from public keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/hex.h"
#include "custody/auth.h"
#include "custody/config.h"
#include "custody/deposits.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Replaces the first occurrence of `from` in `text` (which must hold it).
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

const std::string kValid = R"(
[server]
listen = "127.0.0.1:0"

[server.tls]
cert = "/etc/custodyd/server.crt"
key = "/etc/custodyd/server.key"
client_ca = "/etc/custodyd/ca.crt"

[[roles]]
name = "platform"
san = "ringfence:role:platform"

[[roles]]
name = "auditor"
subject = "CN=auditor-1"

[database]
path = "/var/lib/custodyd/custody.db"

[signer]
socket = "/run/signerd/signer.sock"

[[assets]]
id = "BTC"
chain = "bitcoin"
network = "regtest"
decimals = 8
confirmations = 3

[[assets]]
id = "ETH"
chain = "ethereum"
network = "dev"
decimals = 18
confirmations = 12

[[assets]]
id = "USDC-ETH"
chain = "ethereum"
network = "dev"
decimals = 6
confirmations = 12
erc20_contract = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"

[[chains]]
name = "bitcoin"
kind = "chainsim"
endpoint = "unix:/run/chainsim/chainsim.sock"
poll_interval_ms = 250

[[chains]]
name = "ethereum"
kind = "chainsim"
endpoint = "127.0.0.1:9545"
)";

absl::Status ParseError(const std::string& text) {
  absl::StatusOr<Config> c = ParseConfig(text, "test.toml");
  return c.ok() ? absl::OkStatus() : c.status();
}

TEST(ConfigTest, ParsesEveryField) {
  absl::StatusOr<Config> c = ParseConfig(kValid, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.listen, "127.0.0.1:0");
  ASSERT_TRUE(c->server.tls.has_value());
  EXPECT_EQ(c->server.tls->client_ca, "/etc/custodyd/ca.crt");
  ASSERT_EQ(c->roles.size(), 2u);
  EXPECT_EQ(c->roles[0].role, Role::kPlatform);
  EXPECT_EQ(c->roles[0].san, "ringfence:role:platform");
  EXPECT_EQ(c->roles[1].role, Role::kAuditor);
  EXPECT_EQ(c->roles[1].subject, "CN=auditor-1");
  EXPECT_EQ(c->database_path, "/var/lib/custodyd/custody.db");
  EXPECT_EQ(c->signer_socket, "/run/signerd/signer.sock");
  ASSERT_EQ(c->assets.size(), 3u);
  EXPECT_EQ(c->assets[0].decimals, 8u);
  EXPECT_EQ(c->assets[1].confirmations, 12u);
  EXPECT_EQ(c->assets[2].erc20_contract, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
  ASSERT_EQ(c->chains.size(), 2u);
  EXPECT_EQ(c->chains[0].poll_interval_ms, 250u);
  EXPECT_EQ(c->chains[1].poll_interval_ms, 1000u);  // the default
  EXPECT_EQ(c->FindAsset("ETH"), &c->assets[1]);
  EXPECT_EQ(c->FindAsset("DOGE"), nullptr);
}

TEST(ConfigTest, TlsAndRolesAreOptional) {
  std::string text = Replace(kValid,
                             "[server.tls]\ncert = \"/etc/custodyd/server.crt\"\nkey = \"/etc/custodyd/server.key\"\n"
                             "client_ca = \"/etc/custodyd/ca.crt\"\n",
                             "");
  text = Replace(text, "[[roles]]\nname = \"platform\"\nsan = \"ringfence:role:platform\"\n", "");
  text = Replace(text, "[[roles]]\nname = \"auditor\"\nsubject = \"CN=auditor-1\"\n", "");
  absl::StatusOr<Config> c = ParseConfig(text, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->server.tls.has_value());
  EXPECT_TRUE(c->roles.empty());
}

TEST(ConfigTest, UnknownFieldsAreNamedByPath) {
  EXPECT_THAT(ParseError(kValid + "\n[extra]\nx = 1\n").message(), HasSubstr("unknown field 'extra'"));
  EXPECT_THAT(ParseError(Replace(kValid, "listen =", "port = 1\nlisten =")).message(),
              HasSubstr("unknown field 'server.port'"));
  EXPECT_THAT(ParseError(Replace(kValid, "client_ca =", "ciphers = \"x\"\nclient_ca =")).message(),
              HasSubstr("unknown field 'server.tls.ciphers'"));
  EXPECT_THAT(ParseError(Replace(kValid, "subject = \"CN=auditor-1\"", "subject = \"CN=auditor-1\"\nweight = 2"))
                  .message(),
              HasSubstr("unknown field 'roles[1].weight'"));
  EXPECT_THAT(ParseError(Replace(kValid, "confirmations = 12\n", "confirmations = 12\nsymbol = \"E\"\n")).message(),
              HasSubstr("unknown field 'assets[1].symbol'"));
  EXPECT_THAT(ParseError(Replace(kValid, "poll_interval_ms = 250", "poll_interval_ms = 250\nrpc_user = \"u\""))
                  .message(),
              HasSubstr("unknown field 'chains[0].rpc_user'"));
  EXPECT_THAT(ParseError(Replace(kValid, "path = ", "mode = \"wal\"\npath = ")).message(),
              HasSubstr("unknown field 'database.mode'"));
}

TEST(ConfigTest, MissingFieldsAreNamedByPath) {
  EXPECT_THAT(ParseError(Replace(kValid, "listen = \"127.0.0.1:0\"", "")).message(),
              HasSubstr("missing required field 'server.listen'"));
  EXPECT_THAT(ParseError(Replace(kValid, "key = \"/etc/custodyd/server.key\"", "")).message(),
              HasSubstr("missing required field 'server.tls.key'"));
  EXPECT_THAT(ParseError(Replace(kValid, "name = \"auditor\"", "")).message(),
              HasSubstr("missing required field 'roles[1].name'"));
  EXPECT_THAT(ParseError(Replace(kValid, "decimals = 18", "")).message(),
              HasSubstr("missing required field 'assets[1].decimals'"));
  EXPECT_THAT(ParseError(Replace(kValid, "endpoint = \"127.0.0.1:9545\"", "")).message(),
              HasSubstr("missing required field 'chains[1].endpoint'"));
  EXPECT_THAT(ParseError(Replace(kValid, "[signer]\nsocket = \"/run/signerd/signer.sock\"", "")).message(),
              HasSubstr("missing required section [signer]"));
}

TEST(ConfigTest, ValuesAreCheckedAndNamed) {
  EXPECT_THAT(ParseError(Replace(kValid, "decimals = 8", "decimals = 39")).message(),
              HasSubstr("'assets[0].decimals' must be between 0 and 38"));
  EXPECT_THAT(ParseError(Replace(kValid, "decimals = 8", "decimals = \"8\"")).message(),
              HasSubstr("'assets[0].decimals' must be an integer"));
  EXPECT_THAT(ParseError(Replace(kValid, "confirmations = 3", "confirmations = 0")).message(),
              HasSubstr("'assets[0].confirmations' must be between 1"));
  EXPECT_THAT(ParseError(Replace(kValid, "poll_interval_ms = 250", "poll_interval_ms = 5")).message(),
              HasSubstr("'chains[0].poll_interval_ms' must be between 10"));
  EXPECT_THAT(ParseError(Replace(kValid, "listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1\"")).message(),
              HasSubstr("'server.listen' must be host:port"));
  EXPECT_THAT(ParseError(Replace(kValid, "listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:70000\"")).message(),
              HasSubstr("'server.listen' must be host:port"));
  EXPECT_THAT(ParseError(Replace(kValid, "path = \"/var/lib/custodyd/custody.db\"", "path = \"custody.db\""))
                  .message(),
              HasSubstr("'database.path' must be an absolute path"));
  EXPECT_THAT(ParseError(Replace(kValid, "socket = \"/run/signerd/signer.sock\"", "socket = \"/" +
                                                                                        std::string(120, 's') + "\""))
                  .message(),
              HasSubstr("'signer.socket' is 121 bytes; at most 107"));
  EXPECT_THAT(ParseError(Replace(kValid, "name = \"platform\"", "name = \"root\"")).message(),
              HasSubstr("'roles[0].name' must be platform, approver, auditor or admin"));
  EXPECT_THAT(ParseError(Replace(kValid, "san = \"ringfence:role:platform\"",
                                 "san = \"ringfence:role:platform\"\nsubject = \"CN=platform-1\""))
                  .message(),
              HasSubstr("exactly one of 'roles[0].subject' and 'roles[0].san' must be set (both are)"));
  EXPECT_THAT(ParseError(Replace(kValid, "san = \"ringfence:role:platform\"", "")).message(),
              HasSubstr("(neither is)"));
  EXPECT_THAT(ParseError(Replace(kValid, "id = \"BTC\"", "id = \"B:TC\"")).message(),
              HasSubstr("'assets[0].id' must be 1..32 bytes of [A-Za-z0-9._-]"));
  EXPECT_THAT(ParseError(Replace(kValid, "network = \"regtest\"", "network = \"dev\"")).message(),
              HasSubstr("'assets[0].network' must be mainnet, testnet, signet or regtest for bitcoin"));
  EXPECT_THAT(ParseError(Replace(kValid, "chain = \"bitcoin\"", "chain = \"dogecoin\"")).message(),
              HasSubstr("'assets[0].chain' must be bitcoin or ethereum"));
  EXPECT_THAT(ParseError(Replace(kValid, "kind = \"chainsim\"", "kind = \"bitcoind\"")).message(),
              HasSubstr("'chains[0].kind' must be chainsim"));
}

TEST(ConfigTest, AssetsAreCheckedAgainstEachOther) {
  EXPECT_THAT(ParseError(Replace(kValid, "id = \"ETH\"", "id = \"BTC\"")).message(),
              HasSubstr("'assets[1].id' repeats asset \"BTC\""));
  EXPECT_THAT(ParseError(Replace(kValid, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                                 "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"))
                  .message(),
              HasSubstr("'assets[2].erc20_contract' must be an EIP-55 checksummed address"));
  EXPECT_THAT(ParseError(Replace(kValid, "confirmations = 3\n",
                                 "confirmations = 3\nerc20_contract = \"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\"\n"))
                  .message(),
              HasSubstr("'assets[0].erc20_contract' is only allowed for ethereum assets"));
  EXPECT_THAT(ParseError(Replace(kValid, "name = \"ethereum\"", "name = \"bitcoin\"")).message(),
              HasSubstr("assets[1].chain' names chain \"ethereum\" which has no [[chains]] entry"));
  std::string other_network = kValid;
  other_network.replace(other_network.rfind("network = \"dev\""), 15, "network = \"sepolia\"");
  EXPECT_THAT(ParseError(other_network).message(), HasSubstr("'assets[2].network' is \"sepolia\" but assets[1]"));
  EXPECT_THAT(ParseError(Replace(kValid, "subject = \"CN=auditor-1\"", "san = \"ringfence:role:platform\"")).message(),
              HasSubstr("'roles[1].san' repeats an earlier rule"));
}

TEST(ConfigTest, TheColdSignerIdentityIsAnEd25519Key) {
  const std::string key(64, 'a');
  absl::StatusOr<Config> none = ParseConfig(kValid, "test.toml");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->cold_signer.has_value());
  absl::StatusOr<Config> cold = ParseConfig(kValid + "\n[cold_signer]\nidentity_key = \"" + key + "\"\n", "test.toml");
  ASSERT_TRUE(cold.ok()) << cold.status();
  ASSERT_TRUE(cold->cold_signer.has_value());
  EXPECT_EQ(cold->cold_signer->identity_key[0], 0xaa);
  EXPECT_EQ(cold->cold_signer->identity_key[31], 0xaa);
  for (const std::string& bad : {std::string(62, 'a'), std::string(66, 'a'), std::string(64, 'g'), std::string()}) {
    EXPECT_THAT(ParseError(kValid + "\n[cold_signer]\nidentity_key = \"" + bad + "\"\n").message(),
                HasSubstr("'cold_signer.identity_key' must be 64 hex digits")) << bad;
  }
  EXPECT_THAT(ParseError(kValid + "\n[cold_signer]\n").message(),
              HasSubstr("missing required field 'cold_signer.identity_key'"));
  EXPECT_THAT(ParseError(kValid + "\n[cold_signer]\nidentity_key = \"" + key + "\"\nmodule = \"x\"\n").message(),
              HasSubstr("unknown field 'cold_signer.module'"));
}

TEST(ConfigTest, AllocationAndCoverageAreCheckedAndNamed) {
  absl::StatusOr<Config> plain = ParseConfig(kValid, "test.toml");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->assets[0].price.has_value());
  EXPECT_FALSE(plain->allocation.has_value());
  EXPECT_TRUE(plain->coverage.covers.empty());

  const std::string btc = "confirmations = 3\n";
  const std::string full = Replace(kValid, btc, btc + "price = \"6500000\"\nreceivable_threshold = \"5000\"\n") +
                           "\n[allocation]\nreference = \"USD\"\nreference_decimals = 2\n"
                           "\n[coverage]\n"
                           "\n[[coverage.cover]]\npolicy = \"Crime 2026\"\nasset = \"BTC\"\namount = \"100\"\n";
  absl::StatusOr<Config> c = ParseConfig(full, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->assets[0].price, std::optional<uint64_t>(6500000));
  EXPECT_EQ(c->assets[0].receivable_threshold, std::optional<base::Amount>(base::Amount(5000)));
  ASSERT_TRUE(c->allocation.has_value());
  EXPECT_EQ(c->allocation->reference, "USD");
  EXPECT_TRUE(c->coverage.configured);
  ASSERT_EQ(c->coverage.covers.size(), 1u);
  EXPECT_EQ(c->coverage.covers[0].amount, base::Amount(100));

  auto asset_error = [&](const std::string& line) {
    return std::string(ParseError(Replace(kValid, btc, btc + line)).message());
  };
  // The allocation rules moved to the policy file: a leftover line fails loudly, naming it.
  EXPECT_THAT(asset_error("hot_cap_bps = 200\n"), HasSubstr("unknown field 'assets[0].hot_cap_bps'"));
  EXPECT_THAT(asset_error("min_sweep = \"1000\"\n"), HasSubstr("unknown field 'assets[0].min_sweep'"));
  EXPECT_THAT(ParseError(kValid + "\n[allocation]\nreference = \"USD\"\naggregate_hot_cap_bps = 300\n").message(),
              HasSubstr("unknown field 'allocation.aggregate_hot_cap_bps'"));
  EXPECT_THAT(asset_error("receivable_threshold = \"0\"\n"),
              HasSubstr("'assets[0].receivable_threshold' must be base units above 0"));
  EXPECT_THAT(asset_error("receivable_threshold = \"-1\"\n"),
              HasSubstr("'assets[0].receivable_threshold' must be base units above 0"));
  EXPECT_FALSE(plain->assets[0].receivable_threshold.has_value());
  EXPECT_THAT(asset_error("price = \"0\"\n"), HasSubstr("'assets[0].price' must be base units of the reference"));
  EXPECT_THAT(asset_error("price = \"18446744073709551616\"\n"), HasSubstr("'assets[0].price' must be base units"));
  EXPECT_THAT(asset_error("price = \"007\"\n"), HasSubstr("'assets[0].price' must be base units"));
  EXPECT_THAT(ParseError(kValid + "\n[allocation]\nreference = \"U S D\"\n").message(),
              HasSubstr("'allocation.reference' must be 1..32 bytes"));
  EXPECT_THAT(ParseError(kValid + "\n[allocation]\nreference = \"USD\"\nreference_decimals = 19\n").message(),
              HasSubstr("'allocation.reference_decimals' must be between 0 and 18"));
  EXPECT_THAT(ParseError(kValid + "\n[allocation]\n").message(), HasSubstr("missing required field 'allocation.reference'"));
  // The cold cover share is the policy's cold_cover_share now.
  EXPECT_THAT(ParseError(kValid + "\n[coverage]\ncold_share_bps = 5000\n").message(),
              HasSubstr("unknown field 'coverage.cold_share_bps'"));
  EXPECT_THAT(ParseError(kValid + "\n[[coverage.cover]]\npolicy = \"p\"\nasset = \"LTC\"\namount = \"1\"\n").message(),
              HasSubstr("'coverage.cover[0].asset' names \"LTC\", which is no [[assets]] id"));
  EXPECT_THAT(ParseError(kValid + "\n[[coverage.cover]]\npolicy = \"\"\nasset = \"BTC\"\namount = \"1\"\n").message(),
              HasSubstr("'coverage.cover[0].policy' must be 1..128 printable"));
  EXPECT_THAT(ParseError(kValid + "\n[[coverage.cover]]\npolicy = \"p\"\nasset = \"BTC\"\namount = \"1\"\nlimit = 2\n")
                  .message(),
              HasSubstr("unknown field 'coverage.cover[0].limit'"));
}

TEST(ConfigTest, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(ParseError("[server]\nlisten = \n").message(), HasSubstr("line 2"));
}

TEST(ConfigTest, LoadConfigReadsAFile) {
  ringfence::testing::TempDir dir("custody-config");
  EXPECT_EQ(LoadConfig((dir / "absent.toml").string()).status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir / "c.toml") << kValid;
  EXPECT_TRUE(LoadConfig((dir / "c.toml").string()).ok());
}

TEST(ConfigTest, ListenAddresses) {
  EXPECT_EQ(SplitListen("127.0.0.1:7443"), (std::pair<std::string, uint16_t>{"127.0.0.1", 7443}));
  EXPECT_EQ(SplitListen("[::1]:0"), (std::pair<std::string, uint16_t>{"[::1]", 0}));
  EXPECT_FALSE(SplitListen("::1:80").has_value());
  EXPECT_FALSE(SplitListen("host:").has_value());
  EXPECT_FALSE(SplitListen("host:-1").has_value());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("[::]"));
}

TEST(ConfigTest, EveryAssetHasThreeWallets) {
  AssetConfig btc;
  btc.id = "BTC";
  std::vector<store::WalletRow> w = WalletsOf(btc);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].wallet_id, "BTC:client-hot");
  EXPECT_EQ(w[0].owner_class, "client");
  EXPECT_EQ(w[0].tier, "hot");
  EXPECT_EQ(w[1].wallet_id, "BTC:client-cold");
  EXPECT_EQ(w[1].signer, "cold");
  EXPECT_EQ(w[2].wallet_id, "BTC:house-hot");
  EXPECT_EQ(w[2].owner_class, "house");
}

// --- roles -----------------------------------------------------------------------------------

// proto/custody.proto: "// Roles: a, b." on the line(s) before each "rpc Name(".
std::map<std::string, std::vector<std::string>> RolesFromProto() {
  const char* source = std::getenv("RINGFENCE_SOURCE_DIR");
  EXPECT_NE(source, nullptr) << "run through ctest (RINGFENCE_SOURCE_DIR)";
  std::ifstream in(std::string(source == nullptr ? "." : source) + "/proto/custody.proto");
  std::map<std::string, std::vector<std::string>> out;
  std::vector<std::string> roles;
  const std::string roles_prefix = "// Roles: ";
  const std::string rpc_prefix = "rpc ";
  std::string line;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(' '));
    if (line.starts_with(roles_prefix) && line.ends_with(".")) {
      roles.clear();
      std::stringstream list(line.substr(roles_prefix.size(), line.size() - roles_prefix.size() - 1));
      std::string role;
      while (std::getline(list, role, ',')) roles.push_back(role.substr(role.find_first_not_of(' ')));
    } else if (line.starts_with(rpc_prefix) && line.find('(') != std::string::npos) {
      out[line.substr(rpc_prefix.size(), line.find('(') - rpc_prefix.size())] = roles;
      roles.clear();
    }
  }
  return out;
}

TEST(AuthTest, TheRoleTableIsTheProtosRolesComments) {
  const auto from_proto = RolesFromProto();
  ASSERT_EQ(from_proto.size(), CustodyMethods().size());
  for (std::string_view method : CustodyMethods()) {
    auto it = from_proto.find(std::string(method));
    ASSERT_NE(it, from_proto.end()) << method;
    std::vector<std::string> table;
    for (Role r : AllowedRoles(method)) table.emplace_back(RoleName(r));
    EXPECT_EQ(table, it->second) << method;
  }
  EXPECT_TRUE(AllowedRoles("Withdraw").empty());
  EXPECT_FALSE(IsAllowed("Withdraw", Role::kAdmin));
  EXPECT_TRUE(IsAllowed("FreezeClient", Role::kAdmin));
  EXPECT_FALSE(IsAllowed("FreezeClient", Role::kPlatform));
}

TEST(AuthTest, CertificatesMapToOneRole) {
  Authenticator auth({{Role::kPlatform, "", "ringfence:role:platform"},
                      {Role::kAuditor, "CN=auditor-1", ""},
                      {Role::kAdmin, "CN=admin-1", ""},
                      {Role::kApprover, "", "ringfence:role:admin"}},
                     std::nullopt);
  const std::vector<std::string> platform_sans = {"ringfence:role:platform"};
  Caller c = auth.Match("CN=platform-1", platform_sans);
  ASSERT_TRUE(c.role.has_value());
  EXPECT_EQ(*c.role, Role::kPlatform);
  EXPECT_EQ(c.Actor(), "platform:CN=platform-1");

  c = auth.Match("CN=auditor-1", {});
  ASSERT_TRUE(c.role.has_value());
  EXPECT_EQ(*c.role, Role::kAuditor);

  // A subject must match exactly, not as a prefix or substring.
  c = auth.Match("CN=auditor-10", {});
  EXPECT_FALSE(c.role.has_value());
  EXPECT_EQ(c.Actor(), "unknown:CN=auditor-10");
  EXPECT_THAT(c.why_no_role, HasSubstr("matches no [[roles]] rule"));

  // Two roles' rules match one certificate: neither is granted.
  const std::vector<std::string> admin_sans = {"ringfence:role:admin"};
  c = auth.Match("CN=admin-1", admin_sans);
  EXPECT_FALSE(c.role.has_value());
  EXPECT_THAT(c.why_no_role, HasSubstr("more than one role"));

  // Two rules of the same role are one role.
  Authenticator twice({{Role::kAdmin, "CN=admin-1", ""}, {Role::kAdmin, "", "ringfence:role:admin"}}, std::nullopt);
  c = twice.Match("CN=admin-1", admin_sans);
  ASSERT_TRUE(c.role.has_value());
  EXPECT_EQ(*c.role, Role::kAdmin);

  // Identities are clipped and made printable before they reach the audit log.
  c = auth.Match(std::string(1000, 'x') + "\n", {});
  EXPECT_LT(c.identity.size(), kMaxIdentityLength + 32);
  EXPECT_EQ(c.identity.find('\n'), std::string::npos);
}

// --- deposit addresses -----------------------------------------------------------------------

// The secp256k1 generator G (private key 1): BIP-173's P2WPKH example and the well-known
// Ethereum address of private key 1.
constexpr char kGeneratorCompressed[] = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

TEST(DepositAddressTest, DerivedPerChainAndNetwork) {
  std::vector<uint8_t> key = *base::HexDecode(kGeneratorCompressed);
  AssetConfig btc{"BTC", "bitcoin", "mainnet", 8, 1, "", std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(*DepositAddressFor(btc, key), "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
  btc.network = "testnet";
  EXPECT_EQ(*DepositAddressFor(btc, key), "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx");
  btc.network = "regtest";
  EXPECT_EQ(DepositAddressFor(btc, key)->substr(0, 5), "bcrt1");
  AssetConfig eth{"ETH", "ethereum", "dev", 18, 1, "", std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(*DepositAddressFor(eth, key), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  AssetConfig usdc{"USDC-ETH", "ethereum", "dev", 6, 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(*DepositAddressFor(usdc, key), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");

  std::vector<uint8_t> not_a_point = key;
  not_a_point[0] = 0x05;
  EXPECT_FALSE(DepositAddressFor(btc, not_a_point).ok());
  EXPECT_FALSE(DepositAddressFor(eth, std::vector<uint8_t>(33, 0)).ok());
}

}  // namespace
}  // namespace ringfence::custody
