#include "sync/sync_client.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <map>
#include <cstdlib>
#include <string>

#include "core/change_check.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/tuning.hpp"
#include "sync/transport/compression.hpp"
#include "sync/transport/https_client.hpp"
#include "sync/internal/pull_side.hpp"
#include "sync/internal/push_side.hpp"
#include "sync/protocol.hpp"
#include "sync/record_refusals.hpp"

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

namespace {

// One request on the wire and its answer, run on a thread of its own while the conversation
// prepares the next page.
struct Exchange {
  HttpsResult result;
  std::int64_t sent_at = 0, received_at = 0;  // this laptop's own wall clock, uncorrected
  double seconds = 0;
  std::optional<protocol::SyncResponse> answer;  // a 200, decoded and checked
  std::exception_ptr error;                      // no usable answer (network, undecodable)
};

Exchange exchange(HttpsClient& http, const Clock& clock, const std::string& zstd_body) {
  Exchange out;
  try {
    const auto started = std::chrono::steady_clock::now();
    out.sent_at = clock.wall_millis();
    out.result = http.post_zstd_json("/v1/sync", zstd_body);
    out.received_at = clock.wall_millis();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (out.result.status == 200) {
      out.answer = protocol::decode_sync_response(out.result.body);
      // Only a refusal's body is read again: with the pipeline two answers are held at once (one
      // applied, one decoded), and a page's text is megabytes.
      std::string().swap(out.result.body);
    }
  } catch (...) {
    out.error = std::current_exception();
  }
  return out;
}

bool is_network_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e.code() == Errc::network;
  } catch (...) {
    return false;
  }
}

}  // namespace

bool SyncClient::set_aside_refused(const std::string& body, const sync_internal::PushPage& page, SyncSummary& summary) {
  const std::vector<protocol::RecordRefusal> refusals = protocol::refusals_of(parse_answer(body));
  if (refusals.empty()) return false;
  std::map<std::string, Hlc> sent;
  for (const auto& mark : page.marks) sent.emplace(mark.record_id, mark.last_hlc);
  std::vector<SetAsideRecord> records;
  const std::int64_t now = Clock::system_millis();
  for (const auto& refusal : refusals) {
    // Only what this page carried: a refusal naming anything else is no answer to it, and the
    // sync stops on it as on any refusal.
    const auto it = sent.find(refusal.id);
    if (it == sent.end()) return false;
    std::string reason = refusal.message;
    for (const auto& issue : refusal.issues) reason += "; " + (issue.field.empty() ? std::string() : issue.field + ": ") + issue.message;
    records.push_back(SetAsideRecord{refusal.id, it->second, refusal.code, std::move(reason), now});
  }
  replica_.set_aside(records);
  summary.set_aside.insert(summary.set_aside.end(), records.begin(), records.end());
  return true;
}

SyncSummary SyncClient::converse(HttpsClient& http) {
  using sync_internal::PullSide;
  using sync_internal::PushPage;
  using sync_internal::PushSide;
  const auto started = std::chrono::steady_clock::now();
  SyncSummary summary;
  PushSide push(replica_, options_);
  PullSide pull(replica_, options_);
  sync_internal::SyncCursor cursor;
  cursor.pull = replica_.pull_cursor();
  const std::size_t outbox_at_start = static_cast<std::size_t>(replica_.status().pending_records);
  bool restamped = false;

  // The conversation is a pipeline of three stages, each page in one of them at a time: HQ stores
  // page N+1 while this laptop applies HQ's answer to page N and then reads and compresses page
  // N+2. So request N+1 leaves as soon as answer N is in, before answer N is applied: its pull
  // cursor is answer N's, which is where the applied page leaves this replica's cursor. If applying
  // fails, the sync stops with request N+1 answered but not applied; what it pushed is sent again
  // by the next sync (a page sent again changes nothing) and what it pulled is pulled again.
  auto request_body = [&](const PushPage& page, std::int64_t pull_cursor) {
    protocol::SyncRequest head;
    head.replica = replica_.replica_id();
    head.cursor = pull_cursor;
    head.max_pull = pull.max_records();
    head.max_pull_bytes = pull.max_bytes();
    // Two zstd frames, one stream: the head compressed now, the page when it was read.
    return zstd_compress(protocol::request_head(head)) + page.changes_zstd;
  };
  // A request on the wire. `exchange` is declared last so it is destroyed first: a future of
  // std::async waits for its thread, which reads `body` and uses `http`, when it is destroyed —
  // so an error raised while a request is in flight leaves by a clean wait, whatever throws.
  struct InFlight {
    PushPage page;
    std::string body;
    std::future<Exchange> exchange;
  };
  auto send = [&](PushPage page, std::int64_t pull_cursor) {
    auto sent = std::make_unique<InFlight>();
    sent->page = std::move(page);
    sent->body = request_body(sent->page, pull_cursor);
    sent->exchange = std::async(std::launch::async, [&http, &clock = replica_.clock(), body = &sent->body] {
      return exchange(http, clock, *body);
    });
    return sent;
  };
  // The page after the one in flight, read while it is: nothing while the outbox is done.
  auto read_after = [&](const PushPage& in_flight) -> std::optional<PushPage> {
    if (!in_flight.more) return std::nullopt;
    return push.read(&in_flight.marks.back());
  };

  std::unique_ptr<InFlight> current = send(push.read(nullptr), cursor.pull);
  std::optional<PushPage> next = read_after(current->page);
  // Every earlier page is acknowledged (its answer was applied before this one was waited for):
  // the page read from the oldest unsent change is this one again, as the outbox now stands
  // (smaller after a cut, stamped again, without what HQ refused).
  auto send_again = [&] {
    next.reset();
    current = send(push.read(nullptr), cursor.pull);
    next = read_after(current->page);
  };
  for (std::size_t request = 0; request < tuning::kSyncMaxRequests; ++request) {
    Exchange done = current->exchange.get();
    ++summary.requests;
    summary.bytes_sent += done.result.bytes_sent;
    summary.bytes_received += done.result.bytes_received;
    if (done.result.new_connection) ++summary.new_connections;

    if (done.error) {
      // A cut or a timeout: the page may or may not be stored at HQ (a page sent again changes
      // nothing). Send it again, smaller, from the oldest unacknowledged change.
      if (is_network_error(done.error) && push.failed()) {
        send_again();
        continue;
      }
      std::rethrow_exception(done.error);
    }
    // HQ read its clock between our send and our receipt: take the middle as "the same moment".
    auto offset_from = [&](std::int64_t hq_time) { return hq_time - (done.sent_at + done.received_at) / 2; };

    if (done.result.status == 409) {
      const nlohmann::json answer = parse_answer(done.result.body);
      const bool clock_ahead = !answer.is_discarded() && answer.contains("hq_time") && answer["hq_time"].is_number_integer() &&
                               answer.contains("error") && answer["error"].is_object() &&
                               answer["error"].value("code", "") == "clock_ahead";
      if (!clock_ahead || restamped) throw refusal(done.result.status, done.result.body);
      const std::int64_t hq_time = answer["hq_time"].get<std::int64_t>();
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
      send_again();  // the versions changed: every page is read again
      continue;
    }
    // Some records refused for their own sake: set aside (kept here, listed by `status`), and
    // the rest sent again — HQ stored nothing of the refused page.
    if ((done.result.status == 400 || done.result.status == 403) && set_aside_refused(done.result.body, current->page, summary)) {
      send_again();
      continue;
    }
    if (done.result.status != 200) {
      if (done.result.status == 429 || done.result.status == 503) retry_after_ = done.result.retry_after;
      throw refusal(done.result.status, done.result.body);
    }

    const protocol::SyncResponse& answer = *done.answer;
    summary.clock_offset_millis = offset_from(answer.hq_time);
    summary.catalogue = answer.catalogue;
    replica_.set_clock_offset(summary.clock_offset_millis);
    push.went_through(done.seconds);
    const bool finished = !current->page.more && !answer.more;
    const bool stopping = !finished && options_.should_stop && options_.should_stop();

    // The next request leaves now (see above), then this answer is applied while HQ works on it.
    std::unique_ptr<InFlight> answered = std::move(current);
    if (!finished && !stopping) current = send(next ? std::move(*next) : PushPage::none(), answer.cursor);
    next.reset();
    const ApplySummary applied = pull.take(answer, answered->page.marks, cursor);
    summary.records_sent += answered->page.marks.size();
    summary.records_received += applied.records_added + applied.records_changed;
    summary.conflicts_opened += applied.conflicts_opened;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options_.on_progress) {
      SyncProgress progress;
      progress.records_sent = summary.records_sent;
      progress.records_to_send = std::max(outbox_at_start, summary.records_sent);
      progress.records_received = summary.records_received;
      progress.bytes_sent = summary.bytes_sent;
      progress.bytes_received = summary.bytes_received;
      progress.seconds = elapsed;
      progress.pull_more = answer.more;
      options_.on_progress(progress);
    }
    if (finished || stopping) {
      summary.seconds = elapsed;
      summary.stopped = stopping;
      return summary;
    }
    next = read_after(current->page);
  }
  throw Error(Errc::internal, "the sync did not finish within " + std::to_string(tuning::kSyncMaxRequests) + " requests");
}

}  // namespace fieldsync
