#include "base/strict_json.h"

#include <array>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

namespace ringfence::base {
namespace {

// The error text of a failed parse or lookup, for substring checks.
template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& r) {
  return r.ok() ? "" : std::string(r.status().message());
}
std::string ErrorOf(const absl::Status& s) { return std::string(s.message()); }

TEST(StrictJson, ParsesPlainDocuments) {
  absl::StatusOr<Json> j = ParseStrictJson(R"({"a":"x","n":18446744073709551615,"l":[1,true,null]})", "doc");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"], "x");
  EXPECT_EQ((*j)["n"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ((*j)["l"].size(), 3u);
  EXPECT_EQ(DumpCompact(*j), R"({"a":"x","l":[1,true,null],"n":18446744073709551615})");
}

TEST(StrictJson, RefusesDuplicateKeysAtAnyDepth) {
  EXPECT_NE(ErrorOf(ParseStrictJson(R"({"a":1,"a":1})", "doc")).find("duplicate key \"a\""), std::string::npos);
  EXPECT_NE(ErrorOf(ParseStrictJson(R"({"o":{"k":"1","k":"2"}})", "doc")).find("duplicate key \"k\""),
            std::string::npos);
  // The same key in two sibling objects is not a duplicate.
  EXPECT_TRUE(ParseStrictJson(R"([{"k":1},{"k":1}])", "doc").ok());
}

TEST(StrictJson, RefusesNegativeFractionalExponentAndOverflowingNumbers) {
  for (const char* text : {R"({"n":-1})", R"({"n":-0})"}) {
    EXPECT_NE(ErrorOf(ParseStrictJson(text, "doc")).find("negative"), std::string::npos) << text;
  }
  for (const char* text : {R"({"n":1.5})", R"({"n":1e3})", R"({"n":18446744073709551616})"}) {
    EXPECT_NE(ErrorOf(ParseStrictJson(text, "doc")).find("fractions, exponents"), std::string::npos) << text;
  }
}

TEST(StrictJson, RefusesMalformedTrailingAndDeepInput) {
  for (const char* text : {"", "{", R"({"a":1,})", R"({"a":1} x)", "{'a':1}", R"({"a":"\ud800"})"}) {
    absl::StatusOr<Json> j = ParseStrictJson(text, "bundle.json");
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_NE(ErrorOf(j).find("bundle.json"), std::string::npos) << ErrorOf(j);
  }
  std::string deep(33, '[');
  deep += std::string(33, ']');
  EXPECT_NE(ErrorOf(ParseStrictJson(deep, "doc")).find("nesting deeper than 32"), std::string::npos);
  std::string ok_depth(32, '[');
  ok_depth += std::string(32, ']');
  EXPECT_TRUE(ParseStrictJson(ok_depth, "doc").ok());
}

TEST(StrictJson, ExpectObjectWantsExactlyTheKeys) {
  Json j = *ParseStrictJson(R"({"a":"1","b":"2"})", "doc");
  EXPECT_TRUE(ExpectObject(j, "doc", {"a", "b"}).ok());
  EXPECT_NE(ErrorOf(ExpectObject(j, "doc", {"a"})).find("doc: unknown key \"b\""), std::string::npos);
  EXPECT_NE(ErrorOf(ExpectObject(j, "doc", {"a", "b", "c"})).find("doc.c: missing"), std::string::npos);
  EXPECT_NE(ErrorOf(ExpectObject(Json::array(), "doc", {})).find("must be a JSON object"), std::string::npos);
}

TEST(StrictJson, FieldHelpersCheckTypeBoundAndLength) {
  Json j = *ParseStrictJson(R"({"s":"text","n":7,"h":"00ff","H":"00FF","a":[1]})", "doc");
  EXPECT_EQ(*GetString(j, "s", "doc"), "text");
  EXPECT_NE(ErrorOf(GetString(j, "n", "doc")).find("doc.n: must be a string"), std::string::npos);
  EXPECT_NE(ErrorOf(GetString(j, "zz", "doc")).find("doc.zz: missing"), std::string::npos);
  EXPECT_EQ(*GetInteger(j, "n", "doc", 7), 7u);
  EXPECT_NE(ErrorOf(GetInteger(j, "n", "doc", 6)).find("doc.n: 7 is above 6"), std::string::npos);
  EXPECT_NE(ErrorOf(GetInteger(j, "s", "doc", 9)).find("non-negative JSON integer"), std::string::npos);
  std::array<uint8_t, 2> two{};
  ASSERT_TRUE(GetHexInto(j, "h", "doc", two).ok());
  EXPECT_EQ(two[1], 0xff);
  EXPECT_NE(ErrorOf(GetHexInto(j, "H", "doc", two)).find("exactly 4 lowercase hex"), std::string::npos);
  std::array<uint8_t, 3> three{};
  EXPECT_FALSE(GetHexInto(j, "h", "doc", three).ok());
  EXPECT_EQ((*GetArray(j, "a", "doc"))->size(), 1u);
  EXPECT_NE(ErrorOf(GetArray(j, "s", "doc")).find("must be an array"), std::string::npos);
}

}  // namespace
}  // namespace ringfence::base
