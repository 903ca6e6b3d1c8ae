#include "sync/sync_client.hpp"

#include <chrono>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/tuning.hpp"
#include "sync/https_client.hpp"
#include "sync/protocol.hpp"

namespace fieldsync {
namespace {

// HQ's JSON error body as an Error a field officer can act on.
Error refusal(long status, const std::string& body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  std::string message = "HQ answered " + std::to_string(status);
  std::string code;
  if (!json.is_discarded() && json.contains("error") && json["error"].is_object()) {
    code = json["error"].value("code", "");
    message = json["error"].value("message", message);
  }
  switch (status) {
    case 401: return Error(Errc::invalid_input, "HQ refused this replica's token: " + message + " (ask HQ for a new token, then `fieldsync enroll`)");
    case 403: return Error(Errc::invalid_input, "HQ refused a change: " + message);
    default: return Error(status >= 500 ? Errc::network : Errc::invalid_input, "HQ refused the sync (" + std::to_string(status) + " " + code + "): " + message);
  }
}

}  // namespace

SyncClient::SyncClient(Replica& replica, Enrollment enrollment) : replica_(replica), enrollment_(std::move(enrollment)) {}

SyncSummary SyncClient::run() {
  const auto started = std::chrono::steady_clock::now();
  HttpsClient http(HttpsOptions{enrollment_.hq_url, enrollment_.ca_file, enrollment_.token,
                                std::chrono::seconds(tuning::kSyncConnectTimeoutSeconds),
                                std::chrono::seconds(tuning::kSyncRequestTimeoutSeconds), tuning::kSyncMaxResponseBytes});
  SyncSummary summary;
  bool restamped = false;
  for (std::size_t request = 0; request < tuning::kSyncMaxRequests; ++request) {
    const OutboxPage page = replica_.outbox_page(tuning::kSyncPushPageRecords);
    protocol::SyncRequest sync_request;
    sync_request.replica = replica_.replica_id();
    sync_request.cursor = replica_.pull_cursor();
    sync_request.max_pull = tuning::kSyncPullPageRecords;
    sync_request.changes = page.changes;

    // The offset is HQ's clock minus this laptop's own (uncorrected) wall clock.
    const std::int64_t sent_at = replica_.clock().wall_millis();
    const HttpsResult result = http.post_json("/v1/sync", protocol::encode(sync_request));
    const std::int64_t received_at = replica_.clock().wall_millis();
    ++summary.requests;
    summary.bytes_sent += result.bytes_sent;
    summary.bytes_received += result.bytes_received;
    // HQ read its clock between our send and our receipt: take the middle as "the same moment".
    auto learn_offset = [&](std::int64_t hq_time) {
      summary.clock_offset_millis = hq_time - (sent_at + received_at) / 2;
      replica_.set_clock_offset(summary.clock_offset_millis);
    };

    if (result.status == 409) {
      const nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
      const bool clock_ahead = !body.is_discarded() && body.contains("hq_time") && body.contains("error") &&
                               body["error"].value("code", "") == "clock_ahead";
      if (!clock_ahead || restamped) throw refusal(result.status, result.body);
      learn_offset(body["hq_time"].get<std::int64_t>());
      const Hlc limit = make_hlc(static_cast<std::uint64_t>(body["hq_time"].get<std::int64_t>()), 0);
      summary.restamped = replica_.restamp_unsent(limit, summary.clock_offset_millis);
      restamped = true;
      continue;
    }
    if (result.status != 200) throw refusal(result.status, result.body);

    protocol::SyncResponse response = protocol::decode_sync_response(result.body);
    learn_offset(response.hq_time);
    replica_.acknowledge(page.marks);  // HQ has stored the page
    summary.records_sent += page.changes.size();
    const ApplySummary applied = replica_.apply_changes(response.changes, /*check=*/false, response.cursor);
    summary.records_received += applied.records_added + applied.records_changed;
    summary.conflicts_opened += applied.conflicts_opened;
    if (!page.more && !response.more) {
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return summary;
    }
  }
  throw Error(Errc::internal, "the sync did not finish within " + std::to_string(tuning::kSyncMaxRequests) + " requests");
}

}  // namespace fieldsync
