#include "sync/sync_client.hpp"

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/change_check.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/tuning.hpp"
#include "sync/transport/https_client.hpp"
#include "sync/protocol.hpp"

namespace fieldsync {
namespace {

// An answer body as JSON, or a discarded value when parse_json_input refuses it: an answer is
// input like any other, and a hostile or broken one (nested 100,000 deep, a key twice) must
// give an error here, not a crash.
nlohmann::json parse_answer(const std::string& body) {
  try {
    return parse_json_input(body, "the answer from HQ");
  } catch (const Error&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

// The text at `key` of an object, or `fallback` when absent or not text.
std::string text_at(const nlohmann::json& object, const char* key, std::string fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// HQ's JSON error body as an Error a field officer can act on.
Error refusal(long status, const std::string& body) {
  const nlohmann::json json = parse_answer(body);
  std::string message = "HQ answered " + std::to_string(status);
  std::string code;
  if (json.is_object() && json.contains("error")) {
    code = text_at(json["error"], "code", "");
    message = text_at(json["error"], "message", message);
  }
  switch (status) {
    case 401: return Error(Errc::invalid_input, "HQ refused this replica's token: " + message + " (ask HQ for a new token, then `fieldsync enroll`)");
    case 403: return Error(Errc::invalid_input, "HQ refused a change: " + message);
    // Busy, not wrong: nothing was stored, the outbox keeps everything, a later sync sends it.
    case 429: return Error(Errc::network, "HQ asks this replica to slow down (" + message + "); nothing is lost, sync again later");
    default: return Error(status >= 500 ? Errc::network : Errc::invalid_input, "HQ refused the sync (" + std::to_string(status) + " " + code + "): " + message);
  }
}

}  // namespace

SyncOptions SyncOptions::from_environment() {
  SyncOptions options;
  if (const char* value = std::getenv("FIELDSYNC_SYNC_PAGE_RECORDS"); value != nullptr && *value != '\0') {
    char* end = nullptr;
    const unsigned long records = std::strtoul(value, &end, 10);
    if (*end != '\0' || records == 0 || records > tuning::kSyncMaxPushRecords) {
      throw Error(Errc::invalid_input, "FIELDSYNC_SYNC_PAGE_RECORDS must be a number of records from 1 to " +
                                           std::to_string(tuning::kSyncMaxPushRecords));
    }
    options.push_page_records = options.pull_page_records = records;
  }
  return options;
}

std::unique_ptr<HttpsClient> connect_to_hq(const Enrollment& enrollment) {
  return std::make_unique<HttpsClient>(HttpsOptions{enrollment.hq_url, enrollment.ca_file, enrollment.token,
                                                    std::chrono::seconds(tuning::kSyncConnectTimeoutSeconds),
                                                    std::chrono::seconds(tuning::kSyncRequestTimeoutSeconds),
                                                    tuning::kSyncMaxResponseBytes});
}

SyncClient::SyncClient(Replica& replica, Enrollment enrollment, SyncOptions options)
    : replica_(replica), enrollment_(std::move(enrollment)), options_(std::move(options)) {}

SyncClient::~SyncClient() = default;

SyncSummary SyncClient::run() {
  auto connection = connect_to_hq(enrollment_);
  return run(*connection);
}

SyncSummary SyncClient::run(HttpsClient& http) {
  retry_after_.reset();
  try {
    SyncSummary summary = converse(http);
    replica_.note_sync_finished(Clock::system_millis());
    return summary;
  } catch (const Error& e) {
    try {
      replica_.note_sync_failed(Clock::system_millis(), e.what());
    } catch (const Error&) {
      // The store refusing the log too (disk full): the sync's own error is the one to report.
    }
    throw;
  }
}

SyncSummary SyncClient::converse(HttpsClient& http) {
  const auto started = std::chrono::steady_clock::now();
  SyncSummary summary;
  bool restamped = false;
  for (std::size_t request = 0; request < tuning::kSyncMaxRequests; ++request) {
    const OutboxPage page = replica_.outbox_page(options_.push_page_records ? options_.push_page_records : tuning::kSyncPushPageRecords);
    protocol::SyncRequest sync_request;
    sync_request.replica = replica_.replica_id();
    sync_request.cursor = replica_.pull_cursor();
    sync_request.max_pull = options_.pull_page_records ? options_.pull_page_records : tuning::kSyncPullPageRecords;
    sync_request.changes = page.changes;

    // The offset is HQ's clock minus this laptop's own (uncorrected) wall clock.
    const std::int64_t sent_at = replica_.clock().wall_millis();
    const HttpsResult result = http.post_json("/v1/sync", protocol::encode(sync_request));
    const std::int64_t received_at = replica_.clock().wall_millis();
    ++summary.requests;
    summary.bytes_sent += result.bytes_sent;
    summary.bytes_received += result.bytes_received;
    if (result.new_connection) ++summary.new_connections;
    // HQ read its clock between our send and our receipt: take the middle as "the same moment".
    auto offset_from = [&](std::int64_t hq_time) { return hq_time - (sent_at + received_at) / 2; };
    auto learn_offset = [&](std::int64_t hq_time) {
      summary.clock_offset_millis = offset_from(hq_time);
      replica_.set_clock_offset(summary.clock_offset_millis);
    };

    if (result.status == 409) {
      const nlohmann::json body = parse_answer(result.body);
      const bool clock_ahead = !body.is_discarded() && body.contains("hq_time") && body["hq_time"].is_number_integer() &&
                               body.contains("error") && body["error"].is_object() &&
                               body["error"].value("code", "") == "clock_ahead";
      if (!clock_ahead || restamped) throw refusal(result.status, result.body);
      const std::int64_t hq_time = body["hq_time"].get<std::int64_t>();
      // The time HQ gives moves this laptop's clock: one no working clock shows is refused.
      if (hq_time < tuning::kOldestVersionMillis || hq_time > (std::int64_t{1} << 47) - 1) {
        throw Error(Errc::invalid_input, "HQ said this laptop's clock runs ahead, but gives its own time as " +
                                             std::to_string(hq_time) + " ms, which no working clock shows");
      }
      // restamp_unsent learns the offset itself: it must know the one the unsent writes were
      // stamped with (the one in effect until now) to correct each of them once.
      summary.clock_offset_millis = offset_from(hq_time);
      summary.restamped = replica_.restamp_unsent(make_hlc(static_cast<std::uint64_t>(hq_time), 0), summary.clock_offset_millis);
      restamped = true;
      continue;
    }
    if (result.status != 200) {
      if (result.status == 429 || result.status == 503) retry_after_ = result.retry_after;
      throw refusal(result.status, result.body);
    }

    protocol::SyncResponse response = protocol::decode_sync_response(result.body);
    learn_offset(response.hq_time);
    replica_.acknowledge(page.marks);  // HQ has stored the page
    summary.records_sent += page.changes.size();
    // What HQ sends is checked against HQ's own time: a broken or hostile answer dated ahead of
    // it must not move this laptop's clock (nothing of the page is applied, the cursor stays).
    const ApplySummary applied =
        replica_.apply_changes(response.changes, /*check=*/false, response.cursor, newest_allowed_at(response.hq_time));
    summary.records_received += applied.records_added + applied.records_changed;
    summary.conflicts_opened += applied.conflicts_opened;
    if (options_.on_progress) {
      SyncProgress progress;
      progress.records_sent = summary.records_sent;
      progress.records_to_send = summary.records_sent + (page.more ? 1 : 0);
      progress.records_received = summary.records_received;
      progress.bytes_sent = summary.bytes_sent;
      progress.bytes_received = summary.bytes_received;
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      progress.pull_more = response.more;
      options_.on_progress(progress);
    }
    if (!page.more && !response.more) {
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return summary;
    }
  }
  throw Error(Errc::internal, "the sync did not finish within " + std::to_string(tuning::kSyncMaxRequests) + " requests");
}

}  // namespace fieldsync
