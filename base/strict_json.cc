#include "base/strict_json.h"

#include <vector>

#include "base/hex.h"
#include "base/text.h"

namespace ringfence::base {


namespace {

constexpr size_t kMaxDepth = 32;

// Builds the DOM itself so that it can see every key as it arrives.
class StrictSax {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  explicit StrictSax(Json* root) : root_(root) {}

  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }
  bool number_integer(number_integer_t) {
    // nlohmann reports every number written with a '-' here, "-0" included.
    return Fail("a negative number (no field of this format is signed)");
  }
  bool number_unsigned(number_unsigned_t v) { return Put(Json(v)); }
  bool number_float(number_float_t, const string_t& text) {
    return Fail(Cat("the number ", Clip(text),
                          " (fractions, exponents and integers above 2^64 are not allowed)"));
  }
  bool string(string_t& v) { return Put(Json(std::move(v))); }
  bool binary(binary_t&) { return Fail("binary data"); }
  bool start_object(std::size_t) {
    if (!Put(Json::object())) return false;
    return Push();
  }
  bool key(string_t& k) {
    Json* obj = stack_.back();
    if (obj->contains(k)) return Fail(Cat("duplicate key ", Clip(k)));
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (!Put(Json::array())) return false;
    return Push();
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    if (error_.empty()) error_ = Cat("syntax error at byte ", position, ": ", ex.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  bool Push() {
    if (stack_.size() >= kMaxDepth) return Fail("nesting deeper than 32 levels");
    stack_.push_back(last_);
    return true;
  }
  // Places a value in the current container and remembers it for Push().
  bool Put(Json v) {
    if (stack_.empty()) {
      *root_ = std::move(v);
      last_ = root_;
      return true;
    }
    Json* top = stack_.back();
    if (top->is_object()) {
      last_ = &(*top)[pending_key_];
      *last_ = std::move(v);
    } else {
      top->push_back(std::move(v));
      last_ = &top->back();
    }
    return true;
  }

  Json* root_;
  Json* last_ = nullptr;
  std::vector<Json*> stack_;
  std::string pending_key_;
  std::string error_;
};

std::string Where(std::string_view where, std::string_view key) { return Cat(where, ".", key); }

absl::StatusOr<const Json*> Field(const Json& j, std::string_view key, std::string_view where) {
  auto it = j.find(std::string(key));
  if (it == j.end()) return absl::InvalidArgumentError(Cat(Where(where, key), ": missing"));
  return &*it;
}

}  // namespace

absl::StatusOr<Json> ParseStrictJson(std::string_view text, std::string_view what) {
  Json root;
  StrictSax sax(&root);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json, true, false);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(Cat(what, ": ", e.what()));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        Cat(what, ": not strict JSON: ", sax.error().empty() ? "rejected" : sax.error()));
  }
  return root;
}

absl::Status ExpectObject(const Json& j, std::string_view where, std::initializer_list<std::string_view> keys) {
  if (!j.is_object()) return absl::InvalidArgumentError(Cat(where, ": must be a JSON object"));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (std::string_view k : keys) known = known || it.key() == k;
    if (!known) {
      return absl::InvalidArgumentError(
          Cat(where, ": unknown key ", Clip(it.key()), " (unknown keys are rejected)"));
    }
  }
  for (std::string_view k : keys) {
    if (!j.contains(std::string(k))) {
      return absl::InvalidArgumentError(Cat(Where(where, k), ": missing"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const Json& j, std::string_view key, std::string_view where) {
  auto f = Field(j, key, where);
  if (!f.ok()) return f.status();
  if (!(*f)->is_string()) return absl::InvalidArgumentError(Cat(Where(where, key), ": must be a string"));
  return (*f)->get<std::string>();
}


absl::StatusOr<uint64_t> GetInteger(const Json& j, std::string_view key, std::string_view where, uint64_t max) {
  auto f = Field(j, key, where);
  if (!f.ok()) return f.status();
  // The strict parser only produces unsigned integers; documents built in code may hold
  // non-negative signed ones.
  bool ok = (*f)->is_number_unsigned() || ((*f)->is_number_integer() && (*f)->get<int64_t>() >= 0);
  if (!ok) return absl::InvalidArgumentError(Cat(Where(where, key), ": must be a non-negative JSON integer"));
  uint64_t v = (*f)->get<uint64_t>();
  if (v > max) return absl::InvalidArgumentError(Cat(Where(where, key), ": ", v, " is above ", max));
  return v;
}

absl::Status GetHexInto(const Json& j, std::string_view key, std::string_view where, std::span<uint8_t> out) {
  auto s = GetString(j, key, where);
  if (!s.ok()) return s.status();
  if (!HexDecodeInto(*s, out, Where(where, key), HexCase::kLowerOnly).ok()) {
    return absl::InvalidArgumentError(
        Cat(Where(where, key), ": must be exactly ", out.size() * 2, " lowercase hex characters"));
  }
  return absl::OkStatus();
}



absl::StatusOr<const Json*> GetArray(const Json& j, std::string_view key, std::string_view where) {
  auto f = Field(j, key, where);
  if (!f.ok()) return f.status();
  if (!(*f)->is_array()) return absl::InvalidArgumentError(Cat(Where(where, key), ": must be an array"));
  return *f;
}

std::string DumpCompact(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::strict); }

}  // namespace ringfence::base
