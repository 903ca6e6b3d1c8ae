// init, status, types: the replica itself.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/sync_words.hpp"
#include "core/clock.hpp"
#include "core/data_type.hpp"
#include "core/hlc.hpp"
#include "sync/enrollment.hpp"

namespace fieldsync::cli {
namespace {

std::string plural(std::int64_t n, const char* one, const char* many) {
  return format_count(static_cast<std::uint64_t>(n)) + " " + (n == 1 ? one : many);
}

// A failure is news only when no sync has succeeded since.
bool failed_since_success(const ReplicaStatus& s) {
  return s.last_failure_millis && (!s.last_sync_millis || *s.last_failure_millis > *s.last_sync_millis);
}

// What a field officer asks before closing the laptop, in one sentence: is everything at HQ, and
// if not, how much waits and why.
std::string sync_words(const ReplicaStatus& s, bool enrolled, std::int64_t now) {
  const auto ago = [now](std::int64_t at) { return format_ago(at, now); };
  if (s.set_aside_records > 0) {
    // Not everything is at HQ, whatever else holds: say so first.
    std::string out = plural(s.set_aside_records, "record was", "records were") +
                      " refused by HQ and kept here, not sent (listed below: an edit of one sends it again, "
                      "`fieldsync sync --retry-refused` sends them all again)";
    if (s.pending_records == 0) return out + "; nothing else waits to be sent.";
    return out + "; besides, " + plural(s.pending_records, "record waits", "records wait") + " to be sent.";
  }
  if (s.pending_records == 0) {
    if (s.last_sync_millis) return "Everything is at HQ (last sync " + ago(*s.last_sync_millis) + ").";
    return enrolled ? "Nothing waits to be sent." : "Nothing waits to be sent; this replica is not enrolled with HQ yet.";
  }
  std::string out = plural(s.pending_records, "record waits", "records wait") + " to be sent (" +
                    plural(s.pending_changes, "field change", "field changes") + "); ";
  if (!enrolled) return out + "this replica is not enrolled with HQ (`fieldsync enroll`).";
  if (failed_since_success(s)) return out + "last sync failed " + ago(*s.last_failure_millis) + ": " + s.last_failure;
  if (s.last_sync_millis) return out + "last sync " + ago(*s.last_sync_millis) + ".";
  return out + "never synced yet (`fieldsync sync`, or `fieldsync watch` to sync by itself).";
}

nlohmann::json moment_json(const std::optional<std::int64_t>& at, std::int64_t now) {
  if (!at) return nullptr;
  return {{"time", format_utc_time(*at)}, {"seconds_ago", (now - *at) / 1000}};
}

}  // namespace

void register_replica_commands(CLI::App& app, CommandState& state) {
  auto* init = app.add_subcommand("init", "Set up a new replica for an office in the home folder");
  struct InitArgs {
    std::string office, hq, ca, token, signing_key;
  };
  auto args = std::make_shared<InitArgs>();
  init->add_option("--office", args->office, "Office code: ISO 3166-1 alpha-3 (NER, AFG, SOM, PSE)")->required();
  auto* hq = init->add_option("--hq", args->hq, "HQ's address, https://HOST:PORT (or enroll later with `fieldsync enroll`)");
  auto* ca = init->add_option("--ca", args->ca, "HQ's CA certificate to pin");
  auto* token = init->add_option("--token", args->token, "The office's token from `fieldsync-hq office add`");
  init->add_option("--signing-key", args->signing_key, "HQ's plugin signing key to pin (signing.pub)")->needs(hq);
  hq->needs(ca)->needs(token);
  ca->needs(hq);
  token->needs(hq);
  init->callback([&state, args] {
    const auto home = resolve_home(state.options);
    // Refused before anything is created.
    if (!args->hq.empty()) check_enrollment(args->hq, args->ca, args->token, args->signing_key);
    Replica::create(home, args->office);
    if (!args->hq.empty()) save_enrollment(home, args->hq, args->ca, args->token, args->signing_key);
    auto types = load_plugins(home);
    Replica replica(home, *types);
    if (state.options.json) {
      print_json({{"home", home.string()}, {"office", replica.office()}, {"replica_id", replica.replica_id()}});
    } else {
      std::cout << "Replica for office " << replica.office() << " set up in " << home.string() << " (replica id "
                << replica.replica_id() << ").\n";
    }
  });

  auto* status = app.add_subcommand("status", "Office, replica id, records and changes not yet sent");
  status->callback([&state] {
    OpenReplica replica(state.options);
    const ReplicaStatus s = replica->status();
    const auto enrollment = load_enrollment(replica->home());
    const std::int64_t now = Clock::system_millis();
    const bool field = s.office != "HQ";
    const std::vector<SetAsideRecord> set_aside = replica->set_aside_records();
    const std::vector<RecordIssues> breaking = replica->record_issues();
    if (state.options.json) {
      nlohmann::json broken = nlohmann::json::array();
      for (const auto& r : breaking) {
        broken.push_back({{"id", r.record_id}, {"type", r.type}, {"issues", issues_to_json(r.issues)}, {"checked", moment_json(r.at_millis, now)}});
      }
      nlohmann::json refused = nlohmann::json::array();
      for (const auto& r : set_aside) {
        refused.push_back({{"id", r.record_id}, {"code", r.code}, {"reason", r.reason}, {"refused", moment_json(r.at_millis, now)}});
      }
      nlohmann::json last_failure = moment_json(s.last_failure_millis, now);
      if (!last_failure.is_null()) last_failure["reason"] = s.last_failure;
      nlohmann::json by_type = nlohmann::json::object();
      for (const auto& t : s.by_type) by_type[t.type] = {{"records", t.live}, {"deleted", t.deleted}};
      print_json({{"home", replica->home().string()},
                  {"office", s.office},
                  {"replica_id", s.replica_id},
                  {"records", s.records},
                  {"deleted_records", s.deleted_records},
                  {"by_type", by_type},
                  {"pending_records", s.pending_records},
                  {"pending_changes", s.pending_changes},
                  {"set_aside", refused},
                  {"breaking_rules", broken},
                  {"clock", format_hlc_time(s.clock)},
                  {"hq", enrollment ? nlohmann::json(enrollment->hq_url) : nlohmann::json(nullptr)},
                  {"last_sync", moment_json(s.last_sync_millis, now)},
                  {"last_failure", last_failure},
                  {"failed_since_last_sync", failed_since_success(s)},
                  {"all_at_hq", field ? nlohmann::json(s.pending_records == 0 && s.set_aside_records == 0) : nlohmann::json(nullptr)},
                  {"summary", field ? nlohmann::json(sync_words(s, enrollment.has_value(), now)) : nlohmann::json(nullptr)}});
      return;
    }
    if (field) std::cout << sync_words(s, enrollment.has_value(), now) << "\n\n";
    std::cout << "office:           " << s.office << "\n"
              << "replica id:       " << s.replica_id << "\n"
              << "home:             " << replica->home().string() << "\n"
              << "records:          " << s.records << " (" << s.deleted_records << " deleted)\n";
    for (const auto& t : s.by_type) {
      std::cout << "  " << t.type << ": " << t.live << " (" << t.deleted << " deleted)\n";
    }
    std::cout << "pending changes:  " << s.pending_changes << " field changes in " << s.pending_records
              << " records, not yet sent\n"
              << "clock:            " << format_hlc_time(s.clock) << "\n";
    if (!breaking.empty()) {
      // Records that came before their plugin and break its rules: kept and synced as they are,
      // for someone to correct with `fieldsync edit`.
      std::cout << "breaking rules:   " << plural(static_cast<std::int64_t>(breaking.size()), "record", "records")
                << " that came before their plugin (kept as they are; `fieldsync edit` corrects one):\n";
      for (const auto& r : breaking) {
        std::cout << "  " << r.record_id << " (" << r.type << "):";
        for (const auto& issue : r.issues) std::cout << " " << (issue.field.empty() ? "" : issue.field + ": ") << issue.message << ";";
        std::cout << "\n";
      }
    }
    if (field) {
      std::cout << "HQ:               " << (enrollment ? enrollment->hq_url : "not enrolled (`fieldsync enroll`)") << "\n"
                << "last sync:        "
                << (s.last_sync_millis ? format_local_time(*s.last_sync_millis) + " (" + format_ago(*s.last_sync_millis, now) + ")" : "never")
                << "\n";
      if (s.last_failure_millis) {
        std::cout << "last failure:     " << format_local_time(*s.last_failure_millis) << " ("
                  << format_ago(*s.last_failure_millis, now) << "): " << s.last_failure << "\n";
      }
      if (!set_aside.empty()) {
        std::cout << "refused by HQ:    " << set_aside.size() << " records kept here, not sent:\n";
        for (const auto& r : set_aside) {
          std::cout << "  " << r.record_id << " (" << format_ago(r.at_millis, now) << "): " << r.reason << "\n";
        }
      }
    }
  });

  auto* types = app.add_subcommand("types", "The data types this replica can work with (installed plugins)");
  types->callback([&state] {
    auto host = load_plugins(resolve_home(state.options));
    if (state.options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& [name, plugin] : host->types()) {
        out.push_back({{"name", name},
                       {"schema_version", plugin.type->schema_version()},
                       {"description", plugin.type->description()},
                       {"file", plugin.file.string()}});
      }
      print_json(out);
      return;
    }
    if (host->types().empty()) std::cout << "No data types installed.\n";
    for (const auto& [name, plugin] : host->types()) {
      std::cout << name << " (schema " << plugin.type->schema_version() << ")  " << plugin.type->description() << "\n"
                << "    " << plugin.file.string() << "\n";
    }
  });
}

}  // namespace fieldsync::cli
