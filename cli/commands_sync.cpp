// enroll, sync, conflicts: the field replica and HQ.
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/field_args.hpp"
#include "cli/plugin_update_view.hpp"
#include "cli/sync_words.hpp"
#include "core/hlc.hpp"
#include "sync/enrollment.hpp"
#include "sync/plugin_update.hpp"
#include "sync/sync_client.hpp"

namespace fieldsync::cli {
namespace {

struct EnrollArgs {
  std::string hq;
  std::string ca;
  std::string token;
  std::string signing_key;
};

void add_enroll_options(CLI::App* command, EnrollArgs& args, bool required) {
  auto* hq = command->add_option("--hq", args.hq, "HQ's address, https://HOST:PORT");
  auto* ca = command->add_option("--ca", args.ca, "HQ's CA certificate (the ca_file `fieldsync-hq office add` names)");
  auto* token = command->add_option("--token", args.token, "The office's token from `fieldsync-hq office add`");
  command->add_option("--signing-key", args.signing_key,
                      "HQ's plugin signing key (the signing_key `fieldsync-hq office add` names): plugins HQ publishes install only when signed by it")
      ->needs(hq);
  if (required) {
    hq->required();
    ca->required();
    token->required();
  } else {
    hq->needs(ca)->needs(token);
    ca->needs(hq);
    token->needs(hq);
  }
}

nlohmann::json write_to_json(const FieldWrite& write) {
  return {{"value", write.value}, {"replica", write.version.replica}, {"time", format_hlc_time(write.version.hlc)},
          {"author", write.author}};
}

std::string show(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// The progress of a long sync on one updating line of stderr, for a person at a terminal:
// records sent of the total, received, bytes each way, the push rate and how long the push has
// left. Drawn at most every kRedrawEvery (a page may take a millisecond), and wiped when the sync
// ends or fails, so the summary or the error stands alone. Nothing at all when disabled.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { wipe(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void update(const SyncProgress& p) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_drawn_ < kRedrawEvery) return;
    last_drawn_ = now;
    drawn_ = true;
    // The most useful first: a line cut at the terminal's width keeps sent/total and the time left.
    const std::size_t total = std::max(p.records_to_send, p.records_sent);
    const double rate = p.seconds > 0 ? static_cast<double>(p.records_sent) / p.seconds : 0;
    std::string line = "sent " + format_count(p.records_sent) + "/" + format_count(total);
    if (rate > 0 && total > p.records_sent) line += ", " + format_span(static_cast<double>(total - p.records_sent) / rate) + " left";
    line += "; received " + format_count(p.records_received) + (p.pull_more ? "+" : "") + "; " +
            format_bytes(static_cast<double>(p.bytes_sent)) + " up, " + format_bytes(static_cast<double>(p.bytes_received)) +
            " down";
    if (rate > 0) line += "; " + format_count(static_cast<std::uint64_t>(rate)) + " rec/s";
    // One row only: "\r" returns to the start of the row, so a wrapped line would smear.
    winsize size{};
    const std::size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 ? size.ws_col : 80;
    if (line.size() > width - 1) line.resize(width - 1);
    std::cerr << "\r" << line << "\x1b[K" << std::flush;
  }

  void wipe() {
    if (drawn_) std::cerr << "\r\x1b[K" << std::flush;
    drawn_ = false;
  }

 private:
  static constexpr std::chrono::milliseconds kRedrawEvery{100};
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_drawn_{};
};

}  // namespace

void register_sync_commands(CLI::App& app, CommandState& state) {
  auto enroll_args = std::make_shared<EnrollArgs>();
  auto* enroll = app.add_subcommand("enroll", "Connect this replica to HQ (pins HQ's CA, stores the office's token)");
  add_enroll_options(enroll, *enroll_args, true);
  enroll->callback([&state, enroll_args] {
    OpenReplica replica(state.options);
    const Enrollment enrollment =
        save_enrollment(replica->home(), enroll_args->hq, enroll_args->ca, enroll_args->token, enroll_args->signing_key);
    if (state.options.json) {
      print_json({{"office", replica->office()}, {"hq", enrollment.hq_url}, {"ca_file", enrollment.ca_file.string()}});
    } else {
      std::cout << "Office " << replica->office() << " will sync with " << enrollment.hq_url << " (CA pinned: "
                << enrollment.ca_file.string() << ").\n";
    }
  });

  auto* sync = app.add_subcommand("sync", "Send unsent changes to HQ and receive what changed there");
  auto retry_refused = std::make_shared<bool>(false);
  sync->add_flag("--retry-refused", *retry_refused,
                 "Send again the records HQ refused before (kept here, listed by `fieldsync status`)");
  sync->callback([&state, retry_refused] {
    OpenReplica replica(state.options);
    const std::size_t retried = *retry_refused ? replica->send_set_aside_again() : 0;
    auto enrollment = load_enrollment(replica->home());
    if (!enrollment) {
      throw Error(Errc::not_initialized, "this replica is not enrolled with HQ: run `fieldsync enroll --hq URL --ca FILE --token TOKEN`");
    }
    SyncOptions options = SyncOptions::from_environment();
    ProgressLine progress(!state.options.json && isatty(STDERR_FILENO) == 1);
    options.on_progress = [&progress](const SyncProgress& p) { progress.update(p); };
    SyncClient client(*replica, *enrollment, std::move(options));
    const SyncSummary s = client.run();  // on a throw, ~ProgressLine wipes the line before the error shows
    progress.wipe();
    // HQ published or withdrew a plugin since this laptop last looked: fetched now, for the next
    // command (a record of a new type is added with the next `fieldsync add`).
    std::optional<PluginUpdate> plugins;
    if (catalogue_is_news(s.catalogue, *enrollment, replica->home())) plugins = update_plugins(*enrollment, replica->home());
    // Records that waited for a plugin just installed are checked now.
    const std::vector<WaitingCheck> checked = plugins && !plugins->installed.empty() ? replica.reload_plugins()
                                                                                    : std::vector<WaitingCheck>{};
    if (state.options.json) {
      nlohmann::json refused = nlohmann::json::array();
      for (const auto& r : s.set_aside) refused.push_back({{"id", r.record_id}, {"code", r.code}, {"reason", r.reason}});
      print_json({{"sent", s.records_sent},
                  {"refused", refused},
                  {"retried_refused", retried},
                  {"received", s.records_received},
                  {"conflicts", s.conflicts_opened},
                  {"requests", s.requests},
                  {"bytes_sent", s.bytes_sent},
                  {"bytes_received", s.bytes_received},
                  {"restamped", s.restamped},
                  {"clock_offset_ms", s.clock_offset_millis},
                  {"seconds", s.seconds},
                  {"plugins", plugins ? plugin_update_json(*plugins) : nlohmann::json(nullptr)},
                  {"waiting_checked", waiting_checks_json(checked)}});
      return;
    }
    std::cout << "Synced with " << enrollment->hq_url << ": sent " << s.records_sent << " records, received "
              << s.records_received << ", " << s.conflicts_opened << " new conflicts; " << s.bytes_sent << " bytes up, "
              << s.bytes_received << " down, " << s.requests << (s.requests == 1 ? " request" : " requests") << ", "
              << s.seconds << " s.\n";
    if (s.restamped) std::cout << "This laptop's clock was ahead of HQ's: " << s.restamped << " unsent changes were stamped again.\n";
    if (s.conflicts_opened) std::cout << "See them with `fieldsync conflicts`.\n";
    if (!s.set_aside.empty()) {
      // Printed in full: each is a record a person must look at (HQ will not take it as it is).
      std::cout << "HQ refused " << s.set_aside.size() << (s.set_aside.size() == 1 ? " record" : " records")
                << "; kept here and not sent again until edited (`fieldsync sync --retry-refused` to try again):\n";
      for (const auto& r : s.set_aside) std::cout << "  " << r.record_id << ": " << r.reason << "\n";
    }
    if (plugins) print_plugin_update(*plugins);
    for (const auto& check : checked) std::cout << waiting_check_words(check) << ".\n";
  });

  auto* conflicts = app.add_subcommand("conflicts", "Fields where concurrent changes wait for a person; `conflicts resolve` settles one");
  conflicts->callback([&state, conflicts] {
    if (!conflicts->get_subcommands().empty()) return;  // `conflicts resolve` runs instead
    OpenReplica replica(state.options);
    const auto open = replica->conflicts();
    if (state.options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& c : open) {
        nlohmann::json others = nlohmann::json::array();
        for (const auto& w : c.others) others.push_back(write_to_json(w));
        nlohmann::json entry = {{"id", c.record_id + ":" + c.field}, {"record", c.record_id}, {"type", c.type},
                                {"field", c.field}, {"shown", write_to_json(c.shown)}, {"others", others}};
        if (!c.broken_rule.empty()) entry["broken_rule"] = c.broken_rule;
        out.push_back(std::move(entry));
      }
      print_json(out);
      return;
    }
    if (open.empty()) std::cout << "No open conflicts.\n";
    for (const auto& c : open) {
      std::cout << c.record_id << ":" << c.field << "\n    shown: " << show(c.shown.value) << "  (" << format_hlc_time(c.shown.version.hlc)
                << ", replica " << c.shown.version.replica << ")\n";
      for (const auto& w : c.others) {
        std::cout << "    also:  " << show(w.value) << "  (" << format_hlc_time(w.version.hlc) << ", replica " << w.version.replica << ")\n";
      }
      if (!c.broken_rule.empty()) {
        std::cout << "    breaks: " << c.broken_rule << " (edits made on several replicas, each valid alone)\n";
      }
    }
  });
  struct ResolveArgs {
    std::string id;
    std::string take;
  };
  auto resolve_args = std::make_shared<ResolveArgs>();
  auto* resolve = conflicts->add_subcommand("resolve", "Settle a conflict: --take local, remote, or a value");
  resolve->add_option("id", resolve_args->id, "RECORD_ID:FIELD as `fieldsync conflicts` lists it (RECORD_ID alone if it has one conflict)")->required();
  resolve->add_option("--take", resolve_args->take, "local (this replica's value), remote (the other's), or the value to keep")->required();
  resolve->callback([&state, resolve_args] {
    OpenReplica replica(state.options);
    const auto colon = resolve_args->id.find(':');
    const std::string record_id = replica->resolve_id(resolve_args->id.substr(0, colon));
    std::string field = colon == std::string::npos ? "" : resolve_args->id.substr(colon + 1);
    std::vector<Conflict> candidates;
    for (auto& c : replica->conflicts()) {
      if (c.record_id == record_id && (field.empty() || c.field == field)) candidates.push_back(std::move(c));
    }
    if (candidates.empty()) throw Error(Errc::not_found, "no open conflict here", resolve_args->id);
    if (candidates.size() > 1) throw Error(Errc::invalid_input, "this record has several conflicts: name one as RECORD_ID:FIELD", resolve_args->id);
    const Conflict& conflict = candidates.front();
    field = conflict.field;
    std::vector<FieldWrite> writes = conflict.others;
    writes.push_back(conflict.shown);
    const std::string& self = replica->replica_id();
    nlohmann::json value;
    if ((resolve_args->take == "local" || resolve_args->take == "remote") && !conflict.broken_rule.empty()) {
      throw Error(Errc::invalid_input, "field '" + field + "' " + conflict.broken_rule +
                                           " as the edits merged: give the value to keep (--take VALUE)");
    }
    if (resolve_args->take == "local" || resolve_args->take == "remote") {
      const bool want_local = resolve_args->take == "local";
      const FieldWrite* chosen = nullptr;
      for (const auto& w : writes) {
        if ((w.version.replica == self) == want_local && (chosen == nullptr || chosen->version < w.version)) chosen = &w;
      }
      if (chosen == nullptr) {
        throw Error(Errc::invalid_input, std::string("none of the concurrent values was written ") +
                                             (want_local ? "on this replica" : "elsewhere") + ": give the value to keep");
      }
      value = chosen->value;
      // Settling a revival: the chosen write is either the tombstone (delete) or the edit (keep).
      if (field == kDeletedField) value = value == true;
    } else if (field == kDeletedField) {
      if (resolve_args->take != "delete" && resolve_args->take != "keep") {
        throw Error(Errc::invalid_input, "a revived record is settled with --take delete, keep, local or remote");
      }
      value = resolve_args->take == "delete";
    } else {
      auto type = replica.types().find(conflict.type);
      value = parse_field_args({field + "=" + resolve_args->take}, type ? type->schema() : nlohmann::json::object())[field];
    }
    const Record record = replica->resolve_conflict(record_id, field, value);
    if (state.options.json) {
      print_json({{"id", record.id + ":" + field}, {"record", record.id}, {"field", field}, {"deleted", record.deleted},
                  {"value", record.fields.contains(field) ? record.fields[field] : nlohmann::json(nullptr)}});
    } else {
      std::cout << "Settled " << record.id << ":" << field << " — it syncs like any edit.\n";
    }
  });
}

}  // namespace fieldsync::cli
