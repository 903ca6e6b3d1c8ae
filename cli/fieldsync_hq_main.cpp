// fieldsync-hq: HQ's command — set up HQ, serve the sync over HTTPS, enroll and revoke offices,
// publish plugins.
// The one place where its errors become messages and exit codes.
#include <malloc.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/cli_context.hpp"
#include "cli/hq_home.hpp"
#include "cli/hq_plugin_commands.hpp"
#include "core/tuning.hpp"
#include "sync/hq_service.hpp"
#include "sync/transport/http_server.hpp"
#include "sync/office_registry.hpp"

namespace {

using namespace fieldsync;
using namespace fieldsync::cli;

std::pair<std::string, unsigned short> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw Error(Errc::invalid_input, "--listen takes HOST:PORT, e.g. 127.0.0.1:8443");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // Digits only: stoi alone would take "80x" as 80 and " 8443" as 8443.
  const std::string digits = listen.substr(colon + 1);
  int port = -1;
  if (!digits.empty() && digits.size() <= 5 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(digits);
  }
  if (port < 0 || port > 65535) throw Error(Errc::invalid_input, "--listen: '" + listen.substr(colon + 1) + "' is not a port");
  return {host, static_cast<unsigned short>(port)};
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions options;
  int exit_code = kExitOk;
  CLI::App app{"fieldsync-hq — FieldSync's headquarters: the sync server and the offices it serves"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--home", options.home, "HQ folder (default: $FIELDSYNC_HQ_HOME, else ~/.fieldsync-hq)");
  app.add_flag("--json", options.json, "Machine-readable JSON output");

  std::string cert, key, ca;
  auto* init = app.add_subcommand("init", "Set up HQ: its replica, a TLS certificate (generated unless given) and a plugin signing key");
  init->add_option("--cert", cert, "Server certificate (PEM) to use instead of generating one");
  init->add_option("--key", key, "Its private key (PEM)");
  init->add_option("--ca", ca, "The CA certificate devices must pin (default: --cert itself)");
  init->callback([&] {
    const auto home = resolve_hq_home(options.home);
    init_hq_home(home, cert, key, ca);
    const HqTlsFiles tls = hq_tls_files(home);
    if (options.json) {
      print_json({{"home", home.string()}, {"ca_file", tls.ca_cert.string()}, {"server_cert", tls.server_cert.string()}});
    } else {
      std::cout << "HQ set up in " << home.string() << ".\nDevices pin this CA certificate: " << tls.ca_cert.string() << "\n";
    }
  });

  std::string listen = "127.0.0.1:8443";
  bool verbose = false;
  auto* serve = app.add_subcommand("serve", "Serve the sync over HTTPS until SIGTERM or SIGINT");
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port, printed at start)");
  serve->add_flag("--verbose", verbose, "One line per request on stderr");
  serve->callback([&] {
    // Each handler thread would otherwise get a malloc arena of its own and keep the freed memory
    // of the big pages it handled: a few arenas hold HQ's memory flat (measured: 190 MB with the
    // default, 68 MB with one, over a 50,000-record sync).
    mallopt(M_ARENA_MAX, tuning::kHqMallocArenas);
    const auto home = resolve_hq_home(options.home);
    HqService service(home);
    const auto [host, port] = parse_listen(listen);
    const HqTlsFiles tls = hq_tls_files(home);
    ServerConfig config;
    config.host = host;
    config.port = port;
    config.cert_file = tls.server_cert;
    config.key_file = tls.server_key;
    config.verbose = verbose;
    // The token is checked as soon as a request's head arrives, before its body is read.
    config.authorize = [&service](const HttpRequestHead& head) { return service.authorize(head); };
    HttpServer server(config, [&service](const HttpRequest& request) { return service.handle(request); });
    server.start();
    const std::string url = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                            std::to_string(server.port());
    if (options.json) {
      std::cout << nlohmann::json{{"listening", url}, {"ca_file", tls.ca_cert.string()}}.dump() << std::endl;
    } else {
      std::cout << "HQ listening on " << url << " (stop with Ctrl-C)" << std::endl;
    }
    server.run_until_signal();
    if (!options.json) std::cout << "HQ stopped." << std::endl;
  });

  auto* office = app.add_subcommand("office", "Offices: add (issue a token), list, revoke");
  office->require_subcommand(1);
  std::string code;
  auto* add = office->add_subcommand("add", "Enroll an office: prints its token (shown once) and the CA file to pin");
  add->add_option("code", code, "ISO 3166-1 alpha-3 code: NER, AFG, SOM, PSE")->required();
  add->callback([&] {
    const auto home = resolve_hq_home(options.home);
    if (!std::filesystem::exists(home / "replica.db")) throw Error(Errc::not_initialized, "no HQ here: run `fieldsync-hq init` first", home.string());
    OfficeRegistry registry(HqService::offices_file(home));
    const std::string token = registry.add(code);
    const std::string ca_file = hq_tls_files(home).ca_cert.string();
    const std::string signing_key = (home / "signing.pub").string();
    if (options.json) {
      print_json({{"office", code}, {"token", token}, {"ca_file", ca_file}, {"signing_key", signing_key}});
    } else {
      std::cout << "Office " << code << " enrolled.\n  token:   " << token << "\n  CA file: " << ca_file
                << "\n  plugin signing key: " << signing_key
                << "\nOn the office's laptop: fieldsync init --office " << code << " --hq https://HOST:PORT --ca CA_FILE --token TOKEN\n";
    }
  });
  auto* list = office->add_subcommand("list", "The offices and whether their token is active");
  list->callback([&] {
    OfficeRegistry registry(HqService::offices_file(resolve_hq_home(options.home)));
    const auto offices = registry.list();
    if (options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& o : offices) out.push_back({{"office", o.code}, {"added", o.added}, {"revoked", o.revoked.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.revoked)}, {"active", o.revoked.empty()}});
      print_json(out);
      return;
    }
    if (offices.empty()) std::cout << "No office enrolled yet.\n";
    for (const auto& o : offices) {
      std::cout << o.code << "  added " << o.added << (o.revoked.empty() ? "  active" : "  revoked " + o.revoked) << "\n";
    }
  });
  auto* revoke = office->add_subcommand("revoke", "Revoke an office's token: its devices get 401 until enrolled again");
  revoke->add_option("code", code, "Office code")->required();
  revoke->callback([&] {
    OfficeRegistry registry(HqService::offices_file(resolve_hq_home(options.home)));
    registry.revoke(code);
    if (options.json) {
      print_json({{"office", code}, {"revoked", true}});
    } else {
      std::cout << "Office " << code << "'s token is revoked.\n";
    }
  });

  add_hq_plugin_commands(app, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code_ = app.exit(e);
    return code_ == 0 ? kExitOk : kExitUsage;
  } catch (const Error& e) {
    print_error(options, e);
    return exit_code_for(e.code());
  } catch (const std::exception& e) {
    print_error(options, Error(Errc::internal, e.what()));
    return kExitFailure;
  }
  return exit_code;
}
