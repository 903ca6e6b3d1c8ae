// list, show, history: reading what the office has logged.
#include <ctime>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/record_view.hpp"
#include "core/record_json.hpp"

namespace fieldsync::cli {
namespace {

// "2018-03-08" or "2018-03-08T10:00:00Z" (UTC) as Unix milliseconds.
std::int64_t parse_since(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char tail = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &year, &month, &day, &hour, &minute, &second, &tail);
  const bool date_only = n == 3 && text.size() == 10;
  const bool timestamp = n >= 6 && (n == 6 || (n == 7 && tail == 'Z' && text.back() == 'Z'));
  if (!(date_only || timestamp) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    throw Error(Errc::invalid_input, "--since '" + text + "' is not a date like 2018-03-08 (or 2018-03-08T10:00:00Z)");
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

// A count typed on the command line: digits only (CLI11 would turn "-3" into a huge unsigned
// number, or 0, and the command would run). Its message reads better than NonNegativeNumber's
// "not in range 0.000000 to 1.79e308".
const CLI::Validator kCount(
    [](std::string& value) -> std::string {
      const bool digits = !value.empty() && value.size() <= 18 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
      return digits ? std::string() : "must be a whole number, 0 or more (not '" + value + "')";
    },
    "COUNT");

}  // namespace

void register_query_commands(CLI::App& app, CommandState& state) {
  struct ListArgs {
    std::string type;
    std::vector<std::string> where;
    std::string since;
    std::string search;
    bool deleted = false;
    std::size_t limit = 0;
  };
  auto args = std::make_shared<ListArgs>();
  auto* list = app.add_subcommand("list", "List records, newest first: list [TYPE] [--where k=v] [--since DATE] [--search TEXT]");
  list->add_option("type", args->type, "Only records of this data type");
  list->add_option("--where", args->where, "field=value that must hold (repeatable; a set field matches if it contains the value)");
  list->add_option("--since", args->since, "Only records changed on or after this date (UTC)");
  list->add_option("--search", args->search, "Text to find in the record's text (any case, Arabic or Latin)");
  list->add_flag("--deleted", args->deleted, "Include deleted records");
  list->add_option("--limit", args->limit, "At most this many records (0: no limit)")->check(kCount);
  list->callback([&state, args] {
    OpenReplica replica(state.options);
    ListFilter filter;
    if (!args->type.empty()) {
      replica.types().require(args->type);  // a typo in the type is an error, not an empty list
      filter.type = args->type;
    }
    for (const auto& condition : args->where) {
      const auto equals = condition.find('=');
      if (equals == std::string::npos || equals == 0) {
        throw Error(Errc::invalid_input, "--where '" + condition + "' is not field=value");
      }
      filter.where.emplace_back(condition.substr(0, equals), condition.substr(equals + 1));
    }
    if (!args->since.empty()) filter.changed_since_millis = parse_since(args->since);
    if (!args->search.empty()) filter.search = args->search;
    filter.include_deleted = args->deleted;
    filter.limit = args->limit;
    const auto records = replica->list(filter);
    if (state.options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& record : records) out.push_back(record_listing_json(*replica, record));
      print_json(out);
      return;
    }
    for (const auto& record : records) print_record_line(std::cout, *replica, record);
    std::cout << records.size() << (records.size() == 1 ? " record" : " records") << "\n";
  });

  auto show_id = std::make_shared<std::string>();
  auto* show = app.add_subcommand("show", "Show one record with every field");
  show->add_option("id", *show_id, "Record id (or its first 8+ characters)")->required();
  show->callback([&state, show_id] {
    OpenReplica replica(state.options);
    const Record record = replica->get(*show_id);
    if (state.options.json) {
      nlohmann::json out = record_to_json(record, true);
      out["summary"] = replica->summary(record);
      print_json(out);
    } else {
      print_record(std::cout, *replica, record);
    }
  });

  auto history_id = std::make_shared<std::string>();
  auto* history = app.add_subcommand("history", "Every change of a record: who, where, when, old and new values");
  history->add_option("id", *history_id, "Record id (or its first 8+ characters)")->required();
  history->callback([&state, history_id] {
    OpenReplica replica(state.options);
    const Record record = replica->get(*history_id);
    const auto entries = replica->history(record.id);
    if (state.options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& entry : entries) out.push_back(history_to_json(entry));
      print_json({{"id", record.id}, {"history", out}});
    } else {
      print_history(std::cout, record, entries);
    }
  });
}

}  // namespace fieldsync::cli
