// parse_json_input: a lexer of ours (FastReader, in place over the bytes) or, where it gives up,
// nlohmann's parser (iterative), either driving a SAX handler of ours that builds the value as
// nlohmann's own DOM parser does, and refuses as soon as an event breaks a rule: a container one
// level too deep, a key its object already has, a NUL in a string or key. The rules cost a
// comparison per container, a map insertion per key (which the DOM needs anyway: emplace tells
// us for free whether the key was there) and a memchr per string. tests/json_text_test holds the
// two readers to the same answers.
#include "core/json_input.hpp"

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"
#include "core/utf8_sequence.hpp"

namespace fieldsync {
namespace {

using json = nlohmann::json;

// At most `max` bytes of `s` (valid UTF-8), cut at a character boundary, "…" when cut.
std::string shortened(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end)) + "\xE2\x80\xA6";
}

// Longest key shown in a path, and longest path shown: enough to recognise them, while a
// hostile 1 MB key or a 64-level path does not make a 1 MB error message.
constexpr std::size_t kShownKeyBytes = 40;
constexpr std::size_t kShownPathBytes = 200;

class CheckingBuilder {
 public:
  enum class Refusal { none, depth, duplicate_key, nul_in_key, nul_in_value, malformed };

  explicit CheckingBuilder(json& root) : root_(root) { frames_.reserve(16); }

  bool null() { return place(nullptr); }
  bool boolean(bool value) { return place(value); }
  bool number_integer(json::number_integer_t value) { return place(value); }
  bool number_unsigned(json::number_unsigned_t value) { return place(value); }
  bool number_float(json::number_float_t value, const json::string_t& /*text*/) { return place(value); }
  bool binary(json::binary_t& /*value*/) { return refuse(Refusal::malformed); }  // never in JSON text

  bool string(json::string_t& value) {
    if (std::memchr(value.data(), '\0', value.size()) != nullptr) return refuse(Refusal::nul_in_value);
    return place(value);
  }

  bool start_object(std::size_t /*size*/) { return open(json::value_t::object); }
  bool start_array(std::size_t /*size*/) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& key) {
    if (std::memchr(key.data(), '\0', key.size()) != nullptr) {
      bad_key_ = key;
      return refuse(Refusal::nul_in_key);
    }
    Frame& top = frames_.back();
    auto [it, inserted] = top.container->get_ref<json::object_t&>().emplace(key, nullptr);
    if (!inserted) {
      bad_key_ = key;
      return refuse(Refusal::duplicate_key);
    }
    top.key = &it->first;
    top.slot = &it->second;
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t position, const std::string& /*last_token*/, const Exception& error) {
    position_ = position;
    reason_ = error.what();
    refusal_ = Refusal::malformed;
    return false;
  }

  Refusal refusal() const { return refusal_; }
  std::size_t position() const { return position_; }
  const std::string& reason() const { return reason_; }
  // The key refused at a key event (duplicate_key, nul_in_key).
  const std::string& bad_key() const { return bad_key_; }

  // Where the parser stands: "fields.office", "changes[3].fields", "" at the top; and the
  // innermost object key on that path ("office"), which is what a FieldIssue names. At a key
  // event (`at_key`), the innermost object's last key is the one before, not on the path.
  std::string path(bool at_key) const {
    std::string out;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const Frame& frame = frames_[i];
      if (frame.container->is_array()) {
        // An open child is the array's last element; at the innermost level the element being
        // read is not placed yet.
        const std::size_t size = frame.container->size();
        const std::size_t index = i + 1 < frames_.size() ? size - 1 : size;
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false alarm) on "[" + s + "]".
        out += '[';
        out += std::to_string(index);
        out += ']';
      } else if (frame.key != nullptr && !(at_key && i + 1 == frames_.size())) {
        if (!out.empty()) out += '.';
        out += shortened(*frame.key, kShownKeyBytes);
      }
      if (out.size() > kShownPathBytes) return shortened(out, kShownPathBytes);
    }
    return out;
  }
  std::string innermost_key(bool at_key) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      if (at_key && it == frames_.rbegin()) continue;
      if (it->container->is_object() && it->key != nullptr) return shortened(*it->key, kShownKeyBytes);
    }
    return {};
  }

 private:
  struct Frame {
    json* container;
    const std::string* key = nullptr;  // objects: the key being read, and its value's slot
    json* slot = nullptr;
  };

  bool refuse(Refusal why) {
    refusal_ = why;
    return false;
  }

  // Puts a value where the parser stands; returns where it went.
  template <class Value>
  json* put(Value&& value) {
    if (frames_.empty()) {
      root_ = json(std::forward<Value>(value));
      return &root_;
    }
    Frame& top = frames_.back();
    if (top.container->is_array()) {
      auto& array = top.container->get_ref<json::array_t&>();
      array.emplace_back(std::forward<Value>(value));
      return &array.back();
    }
    *top.slot = json(std::forward<Value>(value));
    return top.slot;
  }

  template <class Value>
  bool place(Value&& value) {
    put(std::forward<Value>(value));
    return true;
  }

  bool open(json::value_t type) {
    if (frames_.size() >= tuning::kJsonMaxDepth) return refuse(Refusal::depth);
    frames_.push_back(Frame{put(type)});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  json& root_;
  std::vector<Frame> frames_;
  Refusal refusal_ = Refusal::none;
  std::size_t position_ = 0;
  std::string reason_;
  std::string bad_key_;
};

// The same events as nlohmann's parser, from a lexer of our own that reads the bytes in place
// (nlohmann's reads them one call per byte, the bulk of a sync body's cost). It knows only the
// way to yes: it gives up at anything nlohmann would refuse, or that it is not sure it reads
// as nlohmann does (a byte order mark, a locale whose decimal point is not '.'), and then the
// input goes through nlohmann's parser, which refuses it with its own words or accepts it.
// Accepting, both build the value through CheckingBuilder with the same events in the same
// order, so the value and the rules it was checked against are the same.
class FastReader {
 public:
  FastReader(std::string_view text, CheckingBuilder& builder)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), end_(p_ + text.size()), builder_(builder) {}

  // True when the whole text is one JSON value and every event was taken.
  bool read() {
    std::vector<char> open;  // '{' or '[' for each container being read
    open.reserve(16);
    for (;;) {
      // A value.
      skip_space();
      if (p_ == end_) return false;
      switch (*p_) {
        case '{':
          ++p_;
          if (!builder_.start_object(static_cast<std::size_t>(-1))) return false;
          skip_space();
          if (p_ != end_ && *p_ == '}') {
            ++p_;
            if (!builder_.end_object()) return false;
            break;
          }
          open.push_back('{');
          if (!read_key()) return false;
          continue;
        case '[':
          ++p_;
          if (!builder_.start_array(static_cast<std::size_t>(-1))) return false;
          skip_space();
          if (p_ != end_ && *p_ == ']') {
            ++p_;
            if (!builder_.end_array()) return false;
            break;
          }
          open.push_back('[');
          continue;
        case '"':
          ++p_;
          if (!read_string() || !builder_.string(text_)) return false;
          break;
        case 't':
          if (!literal("true") || !builder_.boolean(true)) return false;
          break;
        case 'f':
          if (!literal("false") || !builder_.boolean(false)) return false;
          break;
        case 'n':
          if (!literal("null") || !builder_.null()) return false;
          break;
        default:
          if (!read_number()) return false;
      }
      // After a value: the next one of its container, or the container's end.
      for (;;) {
        skip_space();
        if (open.empty()) return p_ == end_;
        if (p_ == end_) return false;
        const unsigned char c = *p_++;
        if (c == ',') {
          if (open.back() == '{' && !read_key()) return false;
          break;
        }
        if (c != (open.back() == '{' ? '}' : ']')) return false;
        if (!(open.back() == '{' ? builder_.end_object() : builder_.end_array())) return false;
        open.pop_back();
      }
    }
  }

 private:
  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) return false;
    p_ += word.size();
    return true;
  }

  // "key" : — the key handed to the builder.
  bool read_key() {
    skip_space();
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    if (!read_string() || !builder_.key(text_)) return false;
    skip_space();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  static int hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // The four hex digits of a \u escape, or -1.
  long read_hex4() {
    if (end_ - p_ < 4) return -1;
    long value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex(p_[i]);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    p_ += 4;
    return value;
  }

  void append_code_point(long cp) {
    if (cp < 0x80) {
      text_ += static_cast<char>(cp);
    } else if (cp < 0x800) {
      text_ += static_cast<char>(0xC0 | (cp >> 6));
      text_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      text_ += static_cast<char>(0xE0 | (cp >> 12));
      text_ += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      text_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      text_ += static_cast<char>(0xF0 | (cp >> 18));
      text_ += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      text_ += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      text_ += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // The rest of a string after its opening quote, unescaped into text_.
  bool read_string() {
    text_.clear();
    for (;;) {
      // A run of text as it stands (ASCII, and UTF-8 sequences checked as they pass), copied at once.
      const unsigned char* run = p_;
      for (;;) {
        while (p_ != end_ && *p_ >= 0x20 && *p_ < 0x80 && *p_ != '"' && *p_ != '\\') ++p_;
        if (p_ == end_ || *p_ < 0x80) break;
        const std::size_t length = utf8_sequence(p_, end_);
        if (length == 0) return false;
        p_ += length;
      }
      text_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return false;
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // a control character must be escaped
      // A backslash.
      if (end_ - p_ < 2) return false;
      const unsigned char e = p_[1];
      p_ += 2;
      switch (e) {
        case '"': text_ += '"'; break;
        case '\\': text_ += '\\'; break;
        case '/': text_ += '/'; break;
        case 'b': text_ += '\b'; break;
        case 'f': text_ += '\f'; break;
        case 'n': text_ += '\n'; break;
        case 'r': text_ += '\r'; break;
        case 't': text_ += '\t'; break;
        case 'u': {
          long cp = read_hex4();
          if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate: its low one must follow at once.
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            const long second = read_hex4();
            if (second < 0xDC00 || second > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (second - 0xDC00);
          }
          append_code_point(cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? converted as nlohmann's lexer does: an
  // integer to unsigned (or, negative, signed) 64 bits when it fits, anything else by strtod.
  bool read_number() {
    const unsigned char* start = p_;
    auto digits = [&] {
      const unsigned char* from = p_;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ != from;
    };
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
      integer = false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
      integer = false;
    }
    const std::size_t length = static_cast<std::size_t>(p_ - start);
    // Up to 18 digits cannot overflow 64 bits either way: added up here.
    if (integer && length - (negative ? 1 : 0) <= 18) {
      std::uint64_t value = 0;
      for (const unsigned char* d = start + (negative ? 1 : 0); d != p_; ++d) value = value * 10 + (*d - '0');
      return negative ? builder_.number_integer(-static_cast<json::number_integer_t>(value))
                      : builder_.number_unsigned(value);
    }
    token_.assign(reinterpret_cast<const char*>(start), length);
    char* parsed_to = nullptr;
    errno = 0;
    if (integer && !negative) {
      const unsigned long long value = std::strtoull(token_.c_str(), &parsed_to, 10);
      if (errno == 0) return builder_.number_unsigned(value);
    } else if (integer) {
      const long long value = std::strtoll(token_.c_str(), &parsed_to, 10);
      if (errno == 0) return builder_.number_integer(value);
    }
    // A fraction, an exponent or an integer past 64 bits: a double, as nlohmann's strtod reads
    // it in the C locale's notation; an infinite one nlohmann refuses.
    if (*std::localeconv()->decimal_point != '.') return false;
    const double value = std::strtod(token_.c_str(), &parsed_to);
    if (!std::isfinite(value)) return false;
    return builder_.number_float(value, token_);
  }

  const unsigned char* p_;
  const unsigned char* end_;
  CheckingBuilder& builder_;
  std::string text_;   // the string being read, unescaped
  std::string token_;  // a number's text, for strtoull / strtod
};

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 5: " prefix (we give the byte ourselves), made valid UTF-8 and short: it may quote the
// input ("last read: '…'"), and the message goes into JSON error bodies.
std::string plain_reason(const std::string& what) {
  std::string_view reason = what;
  if (const auto colon = reason.find(": "); colon != std::string_view::npos) reason.remove_prefix(colon + 2);
  std::string out;
  while (!reason.empty()) {
    const std::size_t bad = text::first_invalid_utf8(reason);
    if (bad == std::string_view::npos) {
      out += reason;
      break;
    }
    out.append(reason.substr(0, bad)).append("\xEF\xBF\xBD");
    reason.remove_prefix(bad + 1);
  }
  return shortened(out, 160);
}

}  // namespace

nlohmann::json parse_json_input(std::string_view text, const std::string& where) {
  // nlohmann's lexer takes a raw 0 byte for the end of the input, so "{…}\0anything" would pass:
  // only the text before a 0 byte is parsed, and the byte is refused where the parser stood.
  const auto* nul = static_cast<const char*>(std::memchr(text.data(), '\0', text.size()));
  const std::string_view before_nul = nul != nullptr ? text.substr(0, static_cast<std::size_t>(nul - text.data())) : text;
  if (nul == nullptr) {
    json root;
    CheckingBuilder builder(root);
    if (FastReader(text, builder).read() && builder.refusal() == CheckingBuilder::Refusal::none) return root;
  }
  // Refused, or not read by FastReader: nlohmann's parser reads it again, and says why.
  json root;
  CheckingBuilder builder(root);
  const bool parsed = json::sax_parse(before_nul.begin(), before_nul.end(), &builder, json::input_format_t::json,
                                      /*strict=*/true, /*ignore_comments=*/false);
  if (parsed && nul == nullptr && builder.refusal() == CheckingBuilder::Refusal::none) return root;

  const bool at_key = builder.refusal() == CheckingBuilder::Refusal::duplicate_key ||
                      builder.refusal() == CheckingBuilder::Refusal::nul_in_key;
  const std::string path = builder.path(at_key);
  const std::string at = path.empty() ? std::string() : " (at " + path + ")";
  const std::string in = path.empty() ? std::string() : " (in " + path + ")";
  std::string field = builder.innermost_key(at_key);
  auto refuse = [&](const std::string& message, const std::string& rule, const std::string& detail) -> json {
    throw Error(Errc::invalid_input, message, where, {FieldIssue{field, rule, detail}});
  };
  switch (builder.refusal()) {
    case CheckingBuilder::Refusal::depth: {
      const std::string limit = std::to_string(tuning::kJsonMaxDepth);
      return refuse("the JSON nests deeper than " + limit + " levels", "depth",
                    "nests deeper than " + limit + " levels" + at);
    }
    case CheckingBuilder::Refusal::duplicate_key: {
      const std::string key = shortened(builder.bad_key(), kShownKeyBytes);
      field = key;
      return refuse("\"" + key + "\" appears twice in one JSON object", "duplicate_key",
                    "\"" + key + "\" appears twice in the same object" + in);
    }
    case CheckingBuilder::Refusal::nul_in_key: {
      std::string key;
      for (const char c : builder.bad_key()) key += c == '\0' ? std::string("\\u0000") : std::string(1, c);
      field = shortened(key, kShownKeyBytes);
      return refuse("a field name holds a NUL character (\\u0000)", "nul",
                    "the field name holds a NUL character (\\u0000)" + in);
    }
    case CheckingBuilder::Refusal::nul_in_value:
      return refuse("text holds a NUL character (\\u0000)", "nul", "holds a NUL character (\\u0000)" + at);
    case CheckingBuilder::Refusal::malformed:
    case CheckingBuilder::Refusal::none:
      break;
  }
  if (nul != nullptr) {
    return refuse("not valid JSON: a NUL byte at byte " + std::to_string(before_nul.size() + 1), "nul",
                  "holds a NUL byte" + at);
  }
  // Malformed text. The lexer refuses ill-formed UTF-8 and raw control bytes too; only now, on
  // the error path, is the text scanned again to say which it was.
  if (const std::size_t bad = text::first_invalid_utf8(text); bad != std::string_view::npos) {
    return refuse("not valid JSON: not valid UTF-8 text at byte " + std::to_string(bad + 1), "utf8",
                  "is not valid UTF-8 text" + at);
  }
  const std::string reason = plain_reason(builder.reason());
  const std::string near = path.empty() ? std::string() : " (near " + path + ")";
  return refuse("not valid JSON at byte " + std::to_string(builder.position()) + ": " + reason, "json",
                "is not valid JSON" + near);
}

}  // namespace fieldsync
