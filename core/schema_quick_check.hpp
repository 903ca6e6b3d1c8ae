// A JSON Schema compiled into code for the keywords plugin schemas use, to vouch for a valid
// document without valijson: valijson walks a record through std::function callbacks and copied
// keys, ~57,000 instructions for one activity, the largest share of HQ's work on a pushed page.
//
// accepts() only ever says yes to what valijson says yes to (draft 7, strong types, as
// SchemaValidator runs it); a no sends the document to valijson, which decides and words the
// refusal. So a schema the quick check does not fully understand compiles to nothing (nullopt)
// and every document goes to valijson, as before.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace fieldsync {

class SchemaQuickCheck {
 public:
  // Nullopt when `schema` uses anything beyond: type, properties, required, additionalProperties
  // (true or false), enum, items (one schema), uniqueItems, minLength, maxLength, minimum,
  // maximum, pattern, and the annotations ($schema, $id, $comment, title, description, examples,
  // default).
  static std::optional<SchemaQuickCheck> compile(const nlohmann::json& schema);

  // What a caller remembers of the patterns' answers (std::regex_search costs thousands of
  // instructions a value, most of a record's check, while a field's values repeat: dates, goals,
  // language codes): one per thread, as SchemaValidator is. Bounded in entries and text length.
  class Memo {
   public:
    bool search(const std::regex& pattern, std::uint64_t number, const std::string& text);

   private:
    std::unordered_map<std::uint64_t, std::unordered_map<std::string, bool>> answers_;
  };

  // True only when `document` is valid under the schema. Reads the check only: threads may share
  // it, each with a Memo of its own. The document must be valid UTF-8 (SchemaValidator scans for
  // that first).
  bool accepts(const nlohmann::json& document, Memo& memo) const;

  struct Node;

 private:
  explicit SchemaQuickCheck(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace fieldsync
