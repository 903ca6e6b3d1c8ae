// init, status, types: the replica itself.
#include <iostream>

#include "cli/commands.hpp"
#include "core/data_type.hpp"
#include "core/hlc.hpp"
#include "sync/enrollment.hpp"

namespace fieldsync::cli {

void register_replica_commands(CLI::App& app, CommandState& state) {
  auto* init = app.add_subcommand("init", "Set up a new replica for an office in the home folder");
  struct InitArgs {
    std::string office, hq, ca, token;
  };
  auto args = std::make_shared<InitArgs>();
  init->add_option("--office", args->office, "Office code: ISO 3166-1 alpha-3 (NER, AFG, SOM, PSE)")->required();
  auto* hq = init->add_option("--hq", args->hq, "HQ's address, https://HOST:PORT (or enroll later with `fieldsync enroll`)");
  auto* ca = init->add_option("--ca", args->ca, "HQ's CA certificate to pin");
  auto* token = init->add_option("--token", args->token, "The office's token from `fieldsync-hq office add`");
  hq->needs(ca)->needs(token);
  ca->needs(hq);
  token->needs(hq);
  init->callback([&state, args] {
    const auto home = resolve_home(state.options);
    if (!args->hq.empty()) check_enrollment(args->hq, args->ca, args->token);  // refuse before creating anything
    Replica::create(home, args->office);
    if (!args->hq.empty()) save_enrollment(home, args->hq, args->ca, args->token);
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
    if (state.options.json) {
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
                  {"clock", format_hlc_time(s.clock)},
                  {"hq", enrollment ? nlohmann::json(enrollment->hq_url) : nlohmann::json(nullptr)}});
      return;
    }
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
    if (s.office != "HQ") {
      std::cout << "HQ:               " << (enrollment ? enrollment->hq_url : "not enrolled (`fieldsync enroll`)") << "\n";
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
