#include "base/text.h"

namespace ringfence::base {

std::string Clip(std::string_view text, size_t max) {
  std::string out = "\"";
  for (char c : text.substr(0, max)) {
    const bool printable = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    out.push_back(printable ? c : '?');
  }
  out.push_back('"');
  if (text.size() > max) out += Cat("...(", text.size(), " bytes)");
  return out;
}

}  // namespace ringfence::base
