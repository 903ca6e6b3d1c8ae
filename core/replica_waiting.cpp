// Records of a type that waited for its plugin: a laptop stores and syncs records of a type it
// lacks as they are (DESIGN.md, Data model), and checks them once the plugin arrives. Those that
// break its rules are listed in record_issues, kept and synced as they are — never dropped — until
// a write makes them pass.
#include <chrono>

#include "core/replica.hpp"
#include "core/store.hpp"

namespace fieldsync {
namespace {

nlohmann::json issues_json(const std::vector<FieldIssue>& issues) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& issue : issues) out.push_back({{"field", issue.field}, {"rule", issue.rule}, {"message", issue.message}});
  return out;
}

std::vector<FieldIssue> issues_of_json(const std::string& text) {
  std::vector<FieldIssue> out;
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_array()) return out;
  for (const auto& issue : json) {
    out.push_back({issue.value("field", ""), issue.value("rule", ""), issue.value("message", "")});
  }
  return out;
}

std::int64_t now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What `fields`, written under `written_under`, break of `type`'s rules, as an edit would see
// them (migrated from an older version). A record the plugin cannot migrate breaks that rule.
std::vector<FieldIssue> issues_of(const DataType& type, const nlohmann::json& fields, int written_under,
                                  const std::string& where) {
  try {
    return type.check(fields_for_type(type, fields, written_under, where));
  } catch (const Error& e) {
    return {FieldIssue{"", "migration", e.what()}};
  }
}

}  // namespace

void Replica::note_waiting_types(const std::set<std::string>& types) {
  for (const auto& type : types) {
    store_->query("INSERT OR IGNORE INTO waiting_types(type) VALUES(?1)").bind(1, type).run();
  }
}

bool Replica::any_record_issues() {
  Query q = store_->query("SELECT EXISTS(SELECT 1 FROM record_issues)");
  q.step();
  return q.integer(0) != 0;
}

void Replica::check_again(const Record& record, const DataType* type) {
  const std::vector<FieldIssue> issues =
      record.deleted || type == nullptr || record.schema_version > type->schema_version()
          ? std::vector<FieldIssue>{}
          : issues_of(*type, record.fields, record.schema_version, "record " + record.id);
  if (issues.empty()) {
    store_->query("DELETE FROM record_issues WHERE record_id = ?1").bind(1, record.id).run();
    return;
  }
  store_->query(
            "UPDATE record_issues SET issues = ?2, at_millis = ?3 WHERE record_id = ?1")
      .bind(1, record.id)
      .bind(2, issues_json(issues).dump())
      .bind(3, now_millis())
      .run();
}

std::vector<WaitingCheck> Replica::check_waiting_records() {
  std::vector<std::string> waiting;
  {
    Query q = store_->query("SELECT type FROM waiting_types ORDER BY type");
    while (q.step()) waiting.push_back(q.text(0));
  }
  std::vector<WaitingCheck> checks;
  for (const auto& name : waiting) {
    const auto type = types_.find(name);
    if (!type) continue;  // still waiting
    WaitingCheck check{name, type->schema_version(), 0, 0, {}};
    const std::int64_t at = now_millis();
    Store::Transaction transaction(*store_);
    Query q = store_->query("SELECT id, schema_version, fields FROM records WHERE type = ?1 AND deleted = 0 ORDER BY created_hlc");
    q.bind(1, name);
    while (q.step()) {
      const std::string id = q.text(0);
      const int version = static_cast<int>(q.integer(1));
      if (version > type->schema_version()) {
        ++check.newer;  // for the newer plugin to judge; this one would judge it by rules it outgrew
        continue;
      }
      ++check.checked;
      auto issues = issues_of(*type, nlohmann::json::parse(q.text(2)), version, "record " + id);
      if (issues.empty()) continue;
      store_->query(
                "INSERT INTO record_issues(record_id, type, issues, at_millis) VALUES(?1, ?2, ?3, ?4) "
                "ON CONFLICT(record_id) DO UPDATE SET issues = excluded.issues, at_millis = excluded.at_millis")
          .bind(1, id)
          .bind(2, name)
          .bind(3, issues_json(issues).dump())
          .bind(4, at)
          .run();
      check.broken.push_back(RecordIssues{id, name, std::move(issues), at});
    }
    store_->query("DELETE FROM waiting_types WHERE type = ?1").bind(1, name).run();
    transaction.commit();
    checks.push_back(std::move(check));
  }
  return checks;
}

std::vector<RecordIssues> Replica::record_issues() {
  Query q = store_->query("SELECT record_id, type, issues, at_millis FROM record_issues ORDER BY at_millis, record_id");
  std::vector<RecordIssues> out;
  while (q.step()) out.push_back(RecordIssues{q.text(0), q.text(1), issues_of_json(q.text(2)), q.integer(3)});
  return out;
}

std::optional<RecordIssues> Replica::record_issues(const std::string& id) {
  Query q = store_->query("SELECT record_id, type, issues, at_millis FROM record_issues WHERE record_id = ?1");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return RecordIssues{q.text(0), q.text(1), issues_of_json(q.text(2)), q.integer(3)};
}

}  // namespace fieldsync
