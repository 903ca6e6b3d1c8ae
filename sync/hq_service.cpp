#include "sync/hq_service.hpp"

#include <cctype>

#include <optional>
#include <string_view>
#include <unordered_set>

#include "core/change_check.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/tuning.hpp"
#include "sync/protocol.hpp"
#include "sync/record_refusals.hpp"

namespace fieldsync {
namespace {

// "application/json", any case, with parameters ("; charset=utf-8") allowed.
bool is_json_media_type(const std::string& value) {
  std::string type = value.substr(0, value.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace

std::string HqService::bearer_token_of(const std::map<std::string, std::string>& headers) {
  auto it = headers.find("authorization");
  if (it == headers.end()) return {};
  constexpr std::string_view prefix = "Bearer ";
  if (it->second.size() <= prefix.size() || it->second.compare(0, prefix.size(), prefix) != 0) return {};
  return it->second.substr(prefix.size());
}

HttpResponse HqService::unauthorized() {
  return json_error(401, "unauthorized", "missing, wrong or revoked token: enroll this replica with a token from HQ");
}

namespace {

// The record of the page an Error from apply() is about ("record <id>", see Error::where), when
// it is one of the page's and the error is the record's own (its input or its values), not HQ's.
std::optional<std::string> refused_record(const Error& e, const std::vector<RecordChange>& changes) {
  if (e.code() != Errc::invalid_input && e.code() != Errc::validation) return std::nullopt;
  constexpr std::string_view prefix = "record ";
  const std::string& where = e.where();
  if (where.size() <= prefix.size() || where.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string id = where.substr(prefix.size());
  for (const auto& change : changes) {
    if (change.id == id) return id;
  }
  return std::nullopt;
}

}  // namespace

HqService::HqService(const std::filesystem::path& home)
    : home_(home), publisher_(home), types_(std::make_unique<PluginHost>()), offices_(offices_file(home)) {
  refresh_types();
  replica_ = std::make_unique<Replica>(home, *types_);
  if (replica_->office() != "HQ") {
    throw Error(Errc::invalid_input, "this is office " + replica_->office() + "'s replica, not HQ's", home.string());
  }
}

HqService::~HqService() = default;

HttpResponse HqService::handle(const HttpRequest& request) {
  const std::string path = path_of(request.target);
  if (path == "/v1/health") {
    if (request.method != "GET") return json_error(405, "method_not_allowed", "use GET " + path);
    return HttpResponse{200, "application/json",
                        nlohmann::json{{"status", "ok"}, {"hq_time", Clock::system_millis()}}.dump(), {}};
  }
  if (path == "/v1/plugins" || path.rfind("/v1/plugins/", 0) == 0) return plugins(request, path);
  if (path == "/v1/sync") {
    if (request.method != "POST") return json_error(405, "method_not_allowed", "use POST " + path);
    HttpResponse response = sync(request);
    // Sync bodies are the bulk of HQ's traffic and reflect no secret of the request (the token
    // is never echoed), so they may be compressed; nothing else is (BREACH).
    response.compress = true;
    return response;
  }
  return json_error(404, "not_found", "no such route: " + path);
}

Authorization HqService::authorize(const HttpRequestHead& head) {
  Authorization verdict;
  const std::string path = path_of(head.target);
  if (path != "/v1/sync" && path != "/v1/plugins" && path.rfind("/v1/plugins/", 0) != 0) return verdict;
  const auto office = offices_.office_for_token(bearer_token_of(head.headers));
  if (!office) {
    verdict.refusal = unauthorized();
  } else {
    verdict.principal = "office:" + *office;
  }
  return verdict;
}

HttpResponse HqService::sync(const HttpRequest& request) {
  const auto office = offices_.office_for_token(bearer_token_of(request.headers));
  if (!office) {
    return unauthorized();
  }
  // A type published since the last request is known to this one.
  const std::uint64_t catalogue = refresh_types();
  // A body of another media type is not ours to guess at (a form post, a misconfigured proxy).
  if (auto type = request.headers.find("content-type");
      type == request.headers.end() || !is_json_media_type(type->second)) {
    return json_error(415, "unsupported_media_type", "a sync body is JSON: send Content-Type: application/json");
  }
  protocol::SyncRequest sync_request;
  try {
    sync_request = protocol::decode_sync_request(request.body);
  } catch (const Error& e) {
    return error_response(e);
  }
  if (sync_request.changes.size() > tuning::kSyncMaxPushRecords) {
    return json_error(413, "page_too_large",
                      "at most " + std::to_string(tuning::kSyncMaxPushRecords) + " records per request");
  }
  // Every version of every change, before anything is touched (HQ's clock included): one
  // version far ahead, observed, would date every later write of HQ and of every office. A record
  // refused for its own sake is listed with every other one (see record_refusals.hpp).
  const std::int64_t hq_time = Clock::system_millis();
  const Hlc newest_allowed = newest_allowed_at(hq_time);
  std::vector<protocol::RecordRefusal> refused;
  std::optional<HttpResponse> ahead;
  for (const auto& change : sync_request.changes) {
    if (change.office != *office) {
      refused.push_back({change.id, 403, "forbidden",
                         "office " + *office + " may not write records of " +
                             (change.office == "HQ" ? std::string("HQ") : "office " + change.office) + " (record " +
                             change.id + ")",
                         {}});
      continue;
    }
    // HQ publishes the types, so it stores only records of a type it knows (a laptop keeps what it
    // lacks a plugin for; HQ is where a type comes from).
    const auto type = types_->find(change.type);
    if (type == nullptr) {
      refused.push_back({change.id, 400, "unknown_type",
                         "record " + change.id + ": HQ has no data type named '" + change.type + "'", {}});
      continue;
    }
    // Nor of a version it has not published (one withdrawn after an office wrote under it).
    if (change.schema_version > type->schema_version()) {
      refused.push_back({change.id, 400, "unknown_version",
                         "record " + change.id + ": written under version " + std::to_string(change.schema_version) +
                             " of the " + change.type + " plugin, and HQ's is version " +
                             std::to_string(type->schema_version()),
                         {}});
      continue;
    }
    const VersionVerdict verdict = check_versions(change, newest_allowed);
    if (verdict.fault == VersionFault::ahead) {
      if (!ahead) {
        ahead = json_error(409, "clock_ahead",
                           "record " + change.id + ": " + verdict.message + ", ahead of HQ's clock (" +
                               format_hlc_time(make_hlc(static_cast<std::uint64_t>(hq_time), 0)) +
                               "): correct the clock and stamp unsent changes again",
                           {{"hq_time", hq_time}});
      }
    } else if (verdict.fault != VersionFault::none) {
      // Malformed or absurdly old: re-stamping cannot mend it, so not "clock_ahead".
      refused.push_back({change.id, 400, "invalid_input", "record " + change.id + ": " + verdict.message, {}});
    }
  }
  if (!refused.empty()) return protocol::refusal_response(refused);
  if (ahead) return *ahead;
  // The type checks of new records need no store: run before the lock, on more than one core.
  Replica::AsNewChecks checks = replica_->check_as_new(sync_request.changes, tuning::kHqCheckThreads);
  Replica::ApplyOptions apply;
  apply.checked_as_new = std::move(checks.vouched);

  std::lock_guard lock(replica_mutex_);
  // What is not in the store now is not when apply() runs, under the same lock: it need not look
  // again (a first push is all new records). An id given twice is looked up again the second time.
  apply.known_absent.assign(sync_request.changes.size(), false);
  std::vector<std::string> ids;
  ids.reserve(sync_request.changes.size());
  for (const auto& change : sync_request.changes) ids.push_back(change.id);
  const auto owners = replica_->offices_of(ids);
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < sync_request.changes.size(); ++i) {
    const RecordChange& change = sync_request.changes[i];
    const auto found = owners.find(change.id);
    const auto owner = found == owners.end() ? std::nullopt : std::optional<std::string>(found->second);
    if (!owner && seen.insert(change.id).second) apply.known_absent[i] = true;
    if (owner && *owner != *office) {
      refused.push_back({change.id, 403, "forbidden",
                         "record " + change.id + " belongs to " + *owner + ", not to office " + *office, {}});
    } else if (const auto broken = checks.broken.find(i); !owner && broken != checks.broken.end()) {
      // New here and its values break its type's rules: what apply() would refuse it for.
      const std::size_t rules = broken->second.size();
      refused.push_back({change.id, 400, "validation",
                         "the " + change.type + " record would break " + std::to_string(rules) +
                             (rules == 1 ? " rule" : " rules"),
                         std::move(broken->second)});
    }
  }
  if (!refused.empty()) return protocol::refusal_response(refused);
  protocol::SyncResponse response;
  try {
    apply.check = true;
    apply.newest_allowed = newest_allowed;
    apply.pushed_by = sync_request.replica;  // its own pushes are not sent back to it
    replica_->apply(sync_request.changes, apply);
    response.stored = sync_request.changes.size();
    const std::size_t pull = sync_request.max_pull == 0 ? tuning::kSyncPullPageRecords
                                                        : std::min(sync_request.max_pull, tuning::kSyncPullPageRecords);
    const std::size_t pull_bytes = sync_request.max_pull_bytes == 0
                                       ? tuning::kSyncPageBytesMax
                                       : std::min(sync_request.max_pull_bytes, tuning::kSyncPageBytesMax);
    // Each change is encoded as it is read: the answer is held as its JSON text alone.
    std::string changes = "[";
    FeedPage page = replica_->feed_page(*office, sync_request.cursor, pull, sync_request.replica, pull_bytes,
                                        [&changes](OutgoingChange&& change) {
                                          if (changes.size() > 1) changes += ',';
                                          changes += protocol::change_text(change);
                                        });
    changes += ']';
    response.cursor = page.next_cursor;
    response.more = page.more;
    response.hq_time = Clock::system_millis();
    response.catalogue = catalogue;
    return HttpResponse{200, "application/json", protocol::encode(response, changes), {}};
  } catch (const Error& e) {
    // A change apply() refused names its record: the laptop may set that one aside as well.
    if (const auto id = refused_record(e, sync_request.changes)) {
      return protocol::refusal_response({{*id, 400, to_string(e.code()), e.what(), e.issues()}});
    }
    return error_response(e);
  }
}

}  // namespace fieldsync
