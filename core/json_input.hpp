// Parsing JSON that comes from outside: a file given to `add --file`, an import line, a sync
// body, HQ's answer, a plugin's embedded schema.
//
// parse_json_input() promises that what it returns is safe for the rest of FieldSync to walk and
// store: nesting at most tuning::kJsonMaxDepth levels (refused while parsing, so a 100,000-deep
// `[[[[` never builds a deep tree and nothing recurses), no object with the same key twice (a
// plain parse keeps the last one silently: "office":"AFG","office":"NER" would become NER), no
// NUL character in any string or key (C code, logs and SQLite text functions cut text there),
// and — as nlohmann's lexer already checks — well-formed UTF-8 everywhere. All in one pass: the
// checks ride on the parser's own events (SAX), so an import is not slowed by a second walk.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fieldsync {

// The JSON value in `text`. Throws Error(invalid_input) whose `where` is `where` and whose one
// FieldIssue names the field (the innermost object key, "" at the top) and the rule: "json"
// (malformed), "utf8", "depth", "duplicate_key" or "nul"; its message gives the path
// ("fields.office", "changes[3].fields.title") and, for malformed text, the byte.
nlohmann::json parse_json_input(std::string_view text, const std::string& where);

}  // namespace fieldsync
