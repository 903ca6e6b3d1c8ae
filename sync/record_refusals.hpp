// Refusals of single records of a pushed page (DESIGN.md, Sync protocol: a bad change gets a 4xx
// and nothing of the page is stored).
//
// A page is refused whole, but when what HQ refuses is some of its records, each for its own sake
// (another office's id, a type HQ does not publish, a version no clock shows, values its type
// forbids), the answer names every one of them under error.records. The laptop sets those aside
// (Replica::set_aside) and sends the rest again: one record HQ will never take no longer holds
// back the whole outbox, for good, behind it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "sync/transport/http_server.hpp"

namespace fieldsync::protocol {

struct RecordRefusal {
  std::string id;
  int status = 400;  // 403: not this office's to write; 400: the record itself is wrong
  std::string code;  // forbidden, unknown_type, unknown_version, invalid_input, validation
  std::string message;
  std::vector<FieldIssue> issues;
};

// The refusal of a page for `refusals` (at least one): the first one's status, code and message,
// as a page refused for one record always was, and every one under error.records.
HttpResponse refusal_response(const std::vector<RecordRefusal>& refusals);

// What an error answer's error.records lists, each entry checked (an id, a status of 400 or 403,
// texts); nothing when it lists none or is not of that shape: the sync stops, as for any refusal.
std::vector<RecordRefusal> refusals_of(const nlohmann::json& answer);

}  // namespace fieldsync::protocol
