// json_text: what nlohmann's dump() writes, written by a loop of ours (see json_text.hpp).
#include "core/json_text.hpp"

#include <string>

#include "core/utf8_sequence.hpp"

namespace fieldsync {

using json = nlohmann::json;

namespace {

// A string as dump() writes it: quoted, with ", \ and control characters escaped (\b \f \n \r
// \t by name, the rest as \u00XX in lower-case hex), everything else as it is. False, and
// `out` left unfinished, when the text is not valid UTF-8 (dump() throws on it).
bool append_quoted(std::string& out, const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const auto* run = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = run + text.size();
  for (const unsigned char* p = run; p != end;) {
    const unsigned char c = *p;
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence(p, end);
      if (length == 0) return false;
      p += length;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    run = ++p;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\b': out += 'b'; break;
      case '\f': out += 'f'; break;
      case '\n': out += 'n'; break;
      case '\r': out += 'r'; break;
      case '\t': out += 't'; break;
      default:
        out += "u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(end - run));
  out += '"';
  return true;
}

// False when `value` holds something left to dump() (see json_text).
bool append_text(std::string& out, const nlohmann::json& value) {
  switch (value.type()) {
    case json::value_t::null:
      out += "null";
      return true;
    case json::value_t::boolean:
      out += value.get_ref<const json::boolean_t&>() ? "true" : "false";
      return true;
    case json::value_t::number_integer:
      out += std::to_string(value.get_ref<const json::number_integer_t&>());
      return true;
    case json::value_t::number_unsigned:
      out += std::to_string(value.get_ref<const json::number_unsigned_t&>());
      return true;
    case json::value_t::string: {
      return append_quoted(out, value.get_ref<const std::string&>());
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.get_ref<const json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!append_text(out, item)) return false;
      }
      out += ']';
      return true;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.get_ref<const json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!append_quoted(out, key)) return false;
        out += ':';
        if (!append_text(out, item)) return false;
      }
      out += '}';
      return true;
    }
    case json::value_t::number_float:
      out += value.dump();  // nlohmann's own shortest round-trip form
      return true;
    case json::value_t::binary:
    case json::value_t::discarded:
      return false;
  }
  return false;
}

}  // namespace

std::string json_text(const nlohmann::json& value) {
  std::string out;
  if (append_text(out, value)) return out;
  return value.dump();
}

}  // namespace fieldsync
