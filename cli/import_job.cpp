#include "cli/import_job.hpp"

#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "cli/cli_context.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"

namespace fieldsync::cli {
namespace {

// A rejected line's text, made safe to write inside JSON: invalid UTF-8 bytes become U+FFFD.
std::string printable(std::string line) {
  std::string out;
  std::string_view rest = line;
  while (!rest.empty()) {
    const auto bad = text::first_invalid_utf8(rest);
    if (bad == std::string_view::npos) {
      out += rest;
      break;
    }
    out += rest.substr(0, bad);
    out += "\xEF\xBF\xBD";
    rest.remove_prefix(bad + 1);
  }
  return out;
}

struct PendingLine {
  std::int64_t number;
  std::string text;
};

class RejectsWriter {
 public:
  explicit RejectsWriter(std::filesystem::path path) : path_(std::move(path)) {}

  void write(std::int64_t line, const std::string& input, const Error& error, const std::string& id = {}) {
    if (!out_) {
      std::error_code ec;
      std::filesystem::create_directories(path_.parent_path(), ec);
      out_ = std::make_unique<std::ofstream>(path_, std::ios::binary | std::ios::app);
      if (!*out_) throw Error(Errc::storage, "cannot write the rejects file", path_.string());
    }
    nlohmann::json entry = {{"line", line}, {"error", error.what()}, {"code", to_string(error.code())}};
    if (!id.empty()) entry["id"] = id;
    nlohmann::json issues = nlohmann::json::array();
    for (const auto& issue : error.issues()) {
      issues.push_back({{"field", issue.field}, {"rule", issue.rule}, {"message", issue.message}});
    }
    entry["issues"] = std::move(issues);
    entry["input"] = printable(input);
    *out_ << entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }

  void flush() {
    if (out_) out_->flush();
  }

 private:
  std::filesystem::path path_;
  std::unique_ptr<std::ofstream> out_;
};

}  // namespace

ImportJob::ImportJob(Replica& replica, std::string type, std::filesystem::path input, std::filesystem::path rejects)
    : replica_(replica), type_(std::move(type)), input_(std::move(input)), rejects_(std::move(rejects)) {}

ImportCounts ImportJob::run(const Progress& on_batch_committed) {
  replica_.types().require(type_);  // an unknown type is one error, not one reject per line
  std::ifstream in(input_, std::ios::binary);
  if (!in) throw Error(Errc::invalid_input, "cannot read the file", input_.string());
  ImportCounts counts;
  std::error_code ec;
  counts.bytes_total = std::filesystem::file_size(input_, ec);
  RejectsWriter rejects(rejects_);

  std::vector<NewRecord> batch;
  std::vector<PendingLine> batch_lines;
  auto commit = [&] {
    if (batch.empty()) return;
    auto results = replica_.add_batch(std::move(batch));
    for (std::size_t i = 0; i < results.size(); ++i) {
      switch (results[i].outcome) {
        case AddOutcome::added: ++counts.added; break;
        case AddOutcome::already_present: ++counts.already_present; break;
        case AddOutcome::rejected:
          ++counts.rejected;
          rejects.write(batch_lines[i].number, batch_lines[i].text, *results[i].error, results[i].id);
          break;
      }
    }
    counts.lines += static_cast<std::int64_t>(results.size());
    rejects.flush();
    batch.clear();
    batch_lines.clear();
    if (on_batch_committed) on_batch_committed(counts);
  };

  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    counts.bytes_read += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(number);
    auto reject_now = [&](const Error& error) {
      ++counts.rejected;
      ++counts.lines;
      rejects.write(number, line, error);
    };
    if (auto bad = text::first_invalid_utf8(line); bad != std::string::npos) {
      reject_now(Error(Errc::invalid_input, "the line is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")", where));
      continue;
    }
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_discarded()) {
      reject_now(Error(Errc::invalid_input, "the line is not valid JSON", where));
      continue;
    }
    if (!parsed.is_object() || !parsed.contains("fields") || !parsed["fields"].is_object()) {
      reject_now(Error(Errc::invalid_input, "the line needs a \"fields\" object", where));
      continue;
    }
    if (parsed.contains("type") && parsed["type"] != type_) {
      reject_now(Error(Errc::invalid_input, "the line is of type " + parsed["type"].dump() + ", not " + type_, where));
      continue;
    }
    NewRecord record{std::nullopt, type_, std::move(parsed["fields"]), where};
    if (parsed.contains("id")) {
      if (!parsed["id"].is_string()) {
        reject_now(Error(Errc::invalid_input, "\"id\" must be a string (a UUID)", where));
        continue;
      }
      record.id = parsed["id"].get<std::string>();
    }
    batch.push_back(std::move(record));
    batch_lines.push_back(PendingLine{number, line});
    if (batch.size() >= tuning::kImportBatchSize) commit();
  }
  if (in.bad()) throw Error(Errc::storage, "reading the file failed", input_.string());
  commit();
  return counts;
}

std::filesystem::path default_rejects_file(const std::filesystem::path& home, const std::filesystem::path& input) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  return home / "rejects" / (input.stem().string() + "-" + stamp + ".rejects.jsonl");
}

}  // namespace fieldsync::cli
