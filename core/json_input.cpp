// parse_json_input: nlohmann's parser (iterative) driving a SAX handler of ours that builds the
// value as nlohmann's own DOM parser does, and refuses as soon as an event breaks a rule: a
// container one level too deep, a key its object already has, a NUL in a string or key. The
// rules cost a comparison per container, a map insertion per key (which the DOM needs anyway:
// emplace tells us for free whether the key was there) and a memchr per string.
#include "core/json_input.hpp"

#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"

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
