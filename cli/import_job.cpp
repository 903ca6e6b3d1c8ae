#include "cli/import_job.hpp"

#include <ctime>
#include <deque>
#include <optional>
#include <future>
#include <fstream>
#include <memory>
#include <vector>

#include "cli/cli_context.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
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

// One batch of lines, checked and ready to commit.
struct CheckedBatch {
  std::vector<PreparedRecord> records;
  std::vector<PendingLine> lines;  // records[i] came from lines[i]
  std::uintmax_t bytes_read = 0;   // of the file, up to the end of this batch
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

namespace {

// Up to kImportBatchSize non-blank lines of the file; empty at its end.
std::vector<PendingLine> read_lines(std::istream& in, std::int64_t& number, std::uintmax_t& bytes_read) {
  std::vector<PendingLine> lines;
  std::string line;
  while (lines.size() < tuning::kImportBatchSize && std::getline(in, line)) {
    ++number;
    bytes_read += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    lines.push_back(PendingLine{number, std::move(line)});
  }
  if (in.bad()) throw Error(Errc::storage, "reading the file failed");
  return lines;
}

// Checks one line: JSON, its shape, then the type's plugin (through Replica::prepare).
PreparedRecord check_line(const Replica& replica, const std::string& type, const PendingLine& line) {
  const std::string where = "line " + std::to_string(line.number);
  auto reject = [&](const std::string& why) {
    PreparedRecord rejected;
    rejected.type = type;
    rejected.error = Error(Errc::invalid_input, why, where);
    return rejected;
  };
  // Malformed JSON, invalid UTF-8, nesting past the limit, a key twice, a NUL: refused here,
  // naming the line and the field, and the import goes on with the next line.
  nlohmann::json parsed;
  try {
    parsed = parse_json_input(line.text, where);
  } catch (const Error& e) {
    PreparedRecord rejected;
    rejected.type = type;
    rejected.error = e;
    return rejected;
  }
  if (!parsed.is_object() || !parsed.contains("fields") || !parsed["fields"].is_object()) {
    return reject("the line needs a \"fields\" object");
  }
  if (parsed.contains("type") && parsed["type"] != type) {
    return reject("the line is of type " + parsed["type"].dump() + ", not " + type);
  }
  if (parsed.contains("id") && !parsed["id"].is_string()) return reject("\"id\" must be a string (a UUID)");
  NewRecord record{std::nullopt, type, std::move(parsed["fields"]), where, /*utf8_checked=*/true};
  if (parsed.contains("id")) record.id = parsed["id"].get<std::string>();
  return replica.prepare(std::move(record));
}

}  // namespace

ImportCounts ImportJob::run(const Progress& on_batch_committed) {
  replica_.types().require(type_);  // an unknown type is one error, not one reject per line
  std::ifstream in(input_, std::ios::binary);
  if (!in) throw Error(Errc::invalid_input, "cannot read the file", input_.string());
  ImportCounts counts;
  std::error_code ec;
  counts.bytes_total = std::filesystem::file_size(input_, ec);
  RejectsWriter rejects(rejects_);

  // Checking lines (parse, normalize, validate) is most of an import's CPU time and needs no
  // store, so batches are checked on other threads while this one writes, in file order.
  auto check_batch = [this](std::vector<PendingLine> lines, std::uintmax_t bytes_read) {
    CheckedBatch batch;
    batch.records.reserve(lines.size());
    for (const auto& line : lines) batch.records.push_back(check_line(replica_, type_, line));
    batch.lines = std::move(lines);
    batch.bytes_read = bytes_read;
    return batch;
  };
  auto commit = [&](CheckedBatch batch) {
    auto results = replica_.add_prepared(std::move(batch.records));
    for (std::size_t i = 0; i < results.size(); ++i) {
      switch (results[i].outcome) {
        case AddOutcome::added: ++counts.added; break;
        case AddOutcome::already_present: ++counts.already_present; break;
        case AddOutcome::rejected:
          ++counts.rejected;
          rejects.write(batch.lines[i].number, batch.lines[i].text, *results[i].error, results[i].id);
          break;
      }
    }
    counts.lines += static_cast<std::int64_t>(results.size());
    counts.bytes_read = batch.bytes_read;
    rejects.flush();
    if (on_batch_committed) on_batch_committed(counts);
  };

  std::deque<std::future<CheckedBatch>> in_flight;
  std::int64_t number = 0;
  std::uintmax_t bytes_read = 0;
  for (;;) {
    std::vector<PendingLine> lines = read_lines(in, number, bytes_read);
    if (lines.empty()) break;
    in_flight.push_back(std::async(std::launch::async, check_batch, std::move(lines), bytes_read));
    if (in_flight.size() > tuning::kImportBatchesAhead) {
      commit(in_flight.front().get());
      in_flight.pop_front();
    }
  }
  while (!in_flight.empty()) {
    commit(in_flight.front().get());
    in_flight.pop_front();
  }
  return counts;
}

PreparedRecord check_import_line(const Replica& replica, const std::string& type, std::int64_t number,
                                 std::string text) {
  return check_line(replica, type, PendingLine{number, std::move(text)});
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
