// The sync protocol's messages (DESIGN.md, Sync protocol; shapes in schemas/protocol/).
//
// One request, POST /v1/sync, carries a replica's unsent changes (one outbox page) and its pull
// cursor; the answer carries how many pushed records HQ stored, the changes after the cursor (a
// bounded page), the new cursor, whether more wait, and HQ's time. decode_* check a body against
// its JSON Schema first and then every value's meaning, and throw Error(invalid_input) naming the
// problem: what HQ answers a bad request with.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/record.hpp"

namespace fieldsync::protocol {

inline constexpr int kVersion = 1;

struct SyncRequest {
  int protocol = kVersion;
  std::string replica;
  std::int64_t cursor = 0;
  std::size_t max_pull = 0;        // records; 0: HQ's default page
  std::size_t max_pull_bytes = 0;  // record JSON before compression; 0: HQ's default
  std::vector<RecordChange> changes;
};

struct SyncResponse {
  int protocol = kVersion;
  std::size_t stored = 0;
  std::vector<RecordChange> changes;
  std::int64_t cursor = 0;
  bool more = false;
  std::int64_t hq_time = 0;  // HQ's wall clock, Unix milliseconds
  std::uint64_t catalogue = 0;  // version of HQ's plugin catalogue; 0 while it publishes none
};

nlohmann::json change_to_json(const RecordChange& change);
// change_to_json(…).dump() of a change read for sending, the same bytes; a record all as created
// is written around its stored values' text, which is neither parsed nor printed again.
std::string change_text(const OutgoingChange& change);
RecordChange change_from_json(const nlohmann::json& json);

std::string encode(const SyncRequest& request);
// The same in two parts, so a client can encode (and compress) the next page's changes while the
// previous request is in flight, and add the head (the cursor) once its answer is in:
//   request_head(request) + changes_tail(encode_changes(changes)) == encode(request)
// request.changes is ignored by request_head.
std::string encode_changes(const std::vector<RecordChange>& changes);
std::string request_head(const SyncRequest& request);        // {"protocol":…,"cursor":…,"changes":
std::string changes_tail(std::string_view changes_json);     // […]}
std::string encode(const SyncRequest& request, std::string_view changes_json);
std::string encode(const SyncResponse& response);
// The same with the changes given as their JSON array (response.changes is ignored).
std::string encode(const SyncResponse& response, std::string_view changes_json);
SyncRequest decode_sync_request(std::string_view body);
SyncResponse decode_sync_response(std::string_view body);

}  // namespace fieldsync::protocol
