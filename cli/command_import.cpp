// import TYPE FILE.jsonl: many records at once, resumable, with progress and a rejects file.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/import_job.hpp"

namespace fieldsync::cli {

void register_import_command(CLI::App& app, CommandState& state) {
  struct ImportArgs {
    std::string type;
    std::string file;
    std::string rejects;
    bool progress_lines = false;
  };
  auto args = std::make_shared<ImportArgs>();
  auto* import = app.add_subcommand("import", "Import records from a JSON Lines file ({\"id\": …, \"fields\": {…}} per line)");
  import->add_option("type", args->type, "Data type of the records, e.g. activity")->required();
  import->add_option("file", args->file, "The .jsonl file")->required();
  import->add_option("--rejects", args->rejects, "Where to write rejected lines (default: HOME/rejects/…)");
  import->add_flag("--progress", args->progress_lines,
                   "Print a progress line after every committed batch (on a terminal progress shows anyway)");
  import->callback([&state, args] {
    OpenReplica replica(state.options);
    const std::filesystem::path rejects =
        args->rejects.empty() ? default_rejects_file(replica->home(), args->file) : std::filesystem::path(args->rejects);
    ImportJob job(*replica, args->type, args->file, rejects);
    const bool on_terminal = isatty(STDERR_FILENO) == 1 && !state.options.json;
    const auto start = std::chrono::steady_clock::now();
    auto progress = [&](const ImportCounts& c) {
      if (args->progress_lines) {
        std::cerr << "progress: committed " << c.lines << " lines (" << c.added << " added, " << c.already_present
                  << " already present, " << c.rejected << " rejected)" << std::endl;
      } else if (on_terminal) {
        const double percent = c.bytes_total ? 100.0 * static_cast<double>(c.bytes_read) / static_cast<double>(c.bytes_total) : 100.0;
        std::fprintf(stderr, "\r  %5.1f%%  %lld lines · %lld added · %lld rejected", percent,
                     static_cast<long long>(c.lines), static_cast<long long>(c.added), static_cast<long long>(c.rejected));
        std::fflush(stderr);
      }
    };
    const ImportCounts counts = job.run(progress);
    if (on_terminal && !args->progress_lines) std::fputs("\n", stderr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (state.options.json) {
      nlohmann::json out = {{"file", args->file},     {"type", args->type},
                            {"lines", counts.lines},  {"added", counts.added},
                            {"already_present", counts.already_present},
                            {"rejected", counts.rejected}, {"seconds", seconds}};
      out["rejects_file"] = counts.rejected ? nlohmann::json(rejects.string()) : nlohmann::json(nullptr);
      print_json(out);
    } else {
      std::printf("Imported %s: %lld added, %lld already present, %lld rejected (%lld lines, %.2f s).\n",
                  args->file.c_str(), static_cast<long long>(counts.added), static_cast<long long>(counts.already_present),
                  static_cast<long long>(counts.rejected), static_cast<long long>(counts.lines), seconds);
      if (counts.rejected) std::printf("Rejected lines and why: %s\n", rejects.c_str());
    }
    if (counts.rejected) state.exit_code = kExitInvalid;
  });
}

}  // namespace fieldsync::cli
