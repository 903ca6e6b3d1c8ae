// The canonical form of a record's fields, the same for every plugin of ours: the same record
// typed on two laptops must be the same bytes on every replica (merge compares and unions values
// byte for byte).
#pragma once

#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync::plugin_support {

// Which fields of a type get more than the text rules below.
struct NormalForm {
  std::set<std::string> sets;         // arrays kept sorted, without duplicates or empty strings
  std::set<std::string> upper_codes;  // ASCII upper-cased (country codes); in a set, each item
  std::set<std::string> lower_codes;  // ASCII lower-cased (language codes)
};

// Every text (a field's value or an item of an array) trimmed and in Unicode NFC; the fields
// `form` names as sets or codes treated as it says. Never throws for a value of the wrong shape
// or ill-formed UTF-8: such values are kept as they are for check() to report. Numbers stay as
// they are, even a number written as text: check() says so rather than guess what was meant.
nlohmann::json normalize_fields(nlohmann::json fields, const NormalForm& form);

}  // namespace fieldsync::plugin_support
