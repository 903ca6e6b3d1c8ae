#include "cli/record_view.hpp"

#include <ostream>

#include "core/record_json.hpp"
#include "core/text.hpp"

namespace fieldsync::cli {
namespace {

// A JSON value as a person reads it: text without quotes (isolated when right-to-left), lists
// comma-separated, absent as "—".
std::string show_value(const nlohmann::json& value) {
  if (value.is_null()) return "—";
  if (value.is_string()) return text::isolate(value.get<std::string>());
  if (value.is_array()) {
    std::string out;
    for (const auto& item : value) {
      if (!out.empty()) out += ", ";
      out += show_value(item);
    }
    return out.empty() ? "(none)" : out;
  }
  return value.dump();
}

}  // namespace

void print_record_line(std::ostream& out, Replica& replica, const Record& record) {
  out << record.id << "  " << record.office << "  " << record.type << "  ";
  if (record.deleted) out << "(deleted) ";
  out << replica.summary(record) << "\n";
}

void print_record(std::ostream& out, Replica& replica, const Record& record) {
  out << "id:       " << record.id << (record.deleted ? "  (deleted)" : "") << "\n"
      << "type:     " << record.type << " (schema " << record.schema_version << ")\n"
      << "office:   " << record.office << "\n"
      << "created:  " << format_hlc_time(record.created) << "\n"
      << "updated:  " << format_hlc_time(record.updated) << "\n"
      << "summary:  " << replica.summary(record) << "\n"
      << "fields:\n";
  for (const auto& [field, value] : record.fields.items()) {
    out << "  " << field << ": " << show_value(value);
    if (auto it = record.versions.find(field); it != record.versions.end()) {
      out << "   [" << format_hlc_time(it->second.hlc) << " by " << it->second.replica << "]";
    }
    out << "\n";
  }
  // A record that came before its plugin and breaks its rules (Replica::check_waiting_records).
  if (const auto broken = replica.record_issues(record.id)) {
    out << "breaks its type's rules (it came before its plugin; kept as it is, `fieldsync edit` corrects it):\n";
    for (const auto& issue : broken->issues) {
      out << "  " << (issue.field.empty() ? "" : issue.field + ": ") << issue.message << " [" << issue.rule << "]\n";
    }
  }
}

void print_history(std::ostream& out, const Record& record, const std::vector<HistoryEntry>& history) {
  out << "history of " << record.id << " (" << record.type << ", " << record.office << "): " << history.size()
      << (history.size() == 1 ? " change" : " changes") << "\n";
  for (const auto& entry : history) {
    out << format_hlc_time(entry.hlc) << "  " << entry.action << "  by " << entry.author << " (office "
        << entry.office << ", replica " << entry.replica << ", " << entry.origin << ")\n";
    for (const auto& [field, change] : entry.changes.items()) {
      out << "    " << field << ": ";
      if (entry.action == "create") {
        out << show_value(change.at("new"));
      } else {
        out << show_value(change.at("old")) << "  →  " << show_value(change.at("new"));
      }
      out << "\n";
    }
  }
}

nlohmann::json record_listing_json(Replica& replica, const Record& record) {
  nlohmann::json out = record_to_json(record);
  out["summary"] = replica.summary(record);
  return out;
}

}  // namespace fieldsync::cli
