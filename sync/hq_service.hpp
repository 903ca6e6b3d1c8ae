// HqService: what HQ answers on each HTTP route (transport in http_server.hpp).
//
//   GET  /v1/health  no token: {"status": "ok", "hq_time": ms}
//   POST /v1/sync    bearer token of an office: stores the office's pushed changes (after the
//                    checks below) and answers with the changes after its cursor.
//
// Checks, each answered with a JSON error and nothing stored: no, wrong or revoked token → 401;
// a change to a record of another office or of HQ → 403; a body that is not the protocol's
// shape, an unknown protocol version, a change that breaks its type's schema → 400; versions
// stamped further ahead of HQ's clock than tuning::kMaxClockAheadMillis → 409 "clock_ahead"
// with HQ's time, so the replica corrects its clock and stamps its unsent writes again.
//
// HQ is a replica too: pushed changes go through the same Replica::apply_changes as on a laptop.
// Requests are served one at a time against the replica (SQLite has one writer anyway).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/transport/http_server.hpp"
#include "sync/office_registry.hpp"

namespace fieldsync {

class HqService {
 public:
  // Opens HQ's replica and office list at `home` (made by `fieldsync-hq init`).
  explicit HqService(const std::filesystem::path& home);
  ~HqService();

  HttpResponse handle(const HttpRequest& request);

  // For ServerConfig::authorize: checks the bearer token of a route that needs one (/v1/sync)
  // as soon as the request head arrives, before its body is read. A missing, wrong or revoked
  // token is refused with the 401 sync() would give; a good one makes the office the principal
  // its requests are rate limited as ("office:NER"). Other routes pass, anonymous. Thread-safe
  // and quick (the office list is re-read only when its file changed).
  Authorization authorize(const HttpRequestHead& head);

  // The files of an HQ home.
  static std::filesystem::path offices_file(const std::filesystem::path& home) { return home / "offices.json"; }
  static std::filesystem::path tls_dir(const std::filesystem::path& home) { return home / "tls"; }

 private:
  HttpResponse sync(const HttpRequest& request);

  std::unique_ptr<PluginHost> types_;
  std::unique_ptr<Replica> replica_;
  OfficeRegistry offices_;
  std::mutex replica_mutex_;
};

}  // namespace fieldsync
