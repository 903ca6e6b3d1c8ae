// HqService: what HQ answers on each HTTP route (transport in http_server.hpp).
//
//   GET  /v1/health  no token: {"status": "ok", "hq_time": ms}
//   POST /v1/sync    bearer token of an office: stores the office's pushed changes (after the
//                    checks below) and answers with the changes after its cursor, and the version
//                    of the plugin catalogue.
//   GET  /v1/plugins bearer token: the signed catalogue of published plugins (404 while none is)
//   GET  /v1/plugins/NAME/VERSION  bearer token: one signed bundle (sync/rollout/plugin_publisher.hpp)
//
// Checks, each answered with a JSON error and nothing stored: no, wrong or revoked token → 401;
// a change to a record of another office or of HQ → 403; a body that is not the protocol's
// shape, an unknown protocol version, a change that breaks its type's schema → 400; versions
// stamped further ahead of HQ's clock than tuning::kMaxClockAheadMillis → 409 "clock_ahead"
// with HQ's time, so the replica corrects its clock and stamps its unsent writes again.
//
// HQ is a replica too: pushed changes go through the same Replica::apply_changes as on a laptop.
// Requests are served one at a time against the replica (SQLite has one writer anyway).
//
// HQ knows the types it publishes: it loads the plugins of its own folders and the current bundles
// of its catalogue, and loads them again when `fieldsync-hq plugin publish` or `withdraw` (another
// process) changes the catalogue — no restart.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/office_registry.hpp"
#include "sync/rollout/plugin_publisher.hpp"
#include "sync/transport/http_server.hpp"

namespace fieldsync {

class HqService {
 public:
  // Opens HQ's replica and office list at `home` (made by `fieldsync-hq init`).
  explicit HqService(const std::filesystem::path& home);
  ~HqService();

  HttpResponse handle(const HttpRequest& request);

  // For ServerConfig::authorize: checks the bearer token of a route that needs one (/v1/sync,
  // /v1/plugins…)
  // as soon as the request head arrives, before its body is read. A missing, wrong or revoked
  // token is refused with the 401 sync() would give; a good one makes the office the principal
  // its requests are rate limited as ("office:NER"). Other routes pass, anonymous. Thread-safe
  // and quick (the office list is re-read only when its file changed).
  Authorization authorize(const HttpRequestHead& head);

  // The files of an HQ home.
  static std::filesystem::path offices_file(const std::filesystem::path& home) { return home / "offices.json"; }
  static std::filesystem::path tls_dir(const std::filesystem::path& home) { return home / "tls"; }

 private:
  static std::string bearer_token_of(const std::map<std::string, std::string>& headers);
  static HttpResponse unauthorized();  // the 401 of a missing, wrong or revoked token
  HttpResponse sync(const HttpRequest& request);
  HttpResponse plugins(const HttpRequest& request, const std::string& path);
  // Loads the types again when the catalogue file changed since they were loaded; returns the
  // catalogue's version (0 while none is published).
  std::uint64_t refresh_types();

  std::filesystem::path home_;
  rollout::PluginPublisher publisher_;
  std::unique_ptr<PluginHost> types_;
  std::mutex types_mutex_;  // refresh_types(), one at a time
  bool types_loaded_ = false;
  std::filesystem::file_time_type catalogue_loaded_{};
  std::uint64_t catalogue_version_ = 0;
  std::unique_ptr<Replica> replica_;
  OfficeRegistry offices_;
  std::mutex replica_mutex_;
};

}  // namespace fieldsync
