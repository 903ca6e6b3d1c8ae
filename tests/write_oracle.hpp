// WriteOracle: what every replica must hold once all writes have reached it, worked out outside
// the product, for convergence tests (tests/sync_property_test.cpp).
//
// Each local write is recorded from the writer's own record before and after it (what it knew,
// what it wrote). Merge keeps, for each field, the writes nobody replaced; so after everyone has
// exchanged everything, every replica must hold for each field exactly: heads = all writes
// minus all replaced versions, replaced = all replaced versions. Whatever a sync drops, repeats
// wrongly or resurrects shows up here, independently of how the product merges. Only local writes
// may be recorded (a merge of remote changes is what is being checked).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/record.hpp"

namespace fieldsync {

class WriteOracle {
 public:
  struct Identity {
    std::string type, office, creator, created_by;
    Hlc created = 0;
    int schema_version = 0;
  };
  struct FieldLog {
    std::map<FieldVersion, FieldWrite> writes;
    std::set<FieldVersion> replaced;
  };
  struct RecordLog {
    Identity identity;
    std::map<std::string, FieldLog> fields;
  };

  // What a local write on `writer` did to the record: `before` as the writer held it (none for
  // an add), `after` as it holds it now. Returns the fields it wrote.
  std::vector<std::string> observe(const std::string& writer, const std::optional<Record>& before, const Record& after,
                                   std::vector<std::string>& problems) {
    RecordLog& log = records_[after.id];
    if (!before) {
      log.identity = {after.type, after.office, after.creator, after.created_by, after.created, after.schema_version};
    }
    std::vector<std::string> written;
    for (const auto& [field, state] : after.state) {
      const FieldState* old = nullptr;
      if (before) {
        if (auto it = before->state.find(field); it != before->state.end()) old = &it->second;
      }
      FieldLog& field_log = log.fields[field];
      bool wrote = false;
      for (const auto& head : state.heads) {
        const bool known = old && std::any_of(old->heads.begin(), old->heads.end(),
                                              [&](const FieldWrite& w) { return w.version == head.version; });
        if (known) continue;
        if (head.version.replica != writer) {
          problems.push_back("record " + after.id + " field " + field + ": a local write of " + writer +
                             " left a head of replica " + head.version.replica + " it had not held");
        }
        field_log.writes[head.version] = head;
        wrote = true;
      }
      for (const auto& version : state.replaced) field_log.replaced.insert(version);
      if (wrote) written.push_back(field);
    }
    return written;
  }

  // The state every replica must hold for `field` once all writes have reached it.
  static FieldState expected_state(const FieldLog& log) {
    FieldState state;
    for (const auto& [version, write] : log.writes) {
      if (!log.replaced.count(version)) state.heads.push_back(write);
    }
    state.replaced.assign(log.replaced.begin(), log.replaced.end());
    return state;
  }

  // The fields a person must see from those states, by the activity type's policies
  // (independently of core/merge): status and the lww fields show the latest head, institutions
  // and countries the union of the heads, participants their maximum. The record is deleted when
  // its tombstone's latest write says so and no field was written after it.
  static std::pair<nlohmann::json, bool> expected_view(const RecordLog& log) {
    nlohmann::json fields = nlohmann::json::object();
    FieldVersion latest_field;
    std::optional<FieldWrite> tombstone;
    for (const auto& [field, field_log] : log.fields) {
      const FieldState state = expected_state(field_log);
      if (state.heads.empty()) continue;
      if (field == kDeletedField) {
        tombstone = state.heads.back();
        continue;
      }
      latest_field = std::max(latest_field, state.heads.back().version);
      nlohmann::json value;
      if (field == "institutions" || field == "countries") {
        std::set<std::string> members;
        bool any = false;
        for (const auto& head : state.heads) {
          if (head.value.is_null()) continue;
          any = true;
          for (const auto& member : head.value) members.insert(member.get<std::string>());
        }
        if (any) value = nlohmann::json(std::vector<std::string>(members.begin(), members.end()));
      } else if (field == "participants") {
        for (const auto& head : state.heads) {
          if (!head.value.is_null() && (value.is_null() || head.value.get<double>() > value.get<double>())) value = head.value;
        }
      } else {
        value = state.heads.back().value;
      }
      if (!value.is_null()) fields[field] = value;
    }
    const bool deleted = tombstone && tombstone->value == true && !(tombstone->version < latest_field);
    return {fields, deleted};
  }

  const std::map<std::string, RecordLog>& records() const { return records_; }
  // Ids of `office`'s records, in a stable order.
  std::vector<std::string> ids_of(const std::string& office) const {
    std::vector<std::string> out;
    for (const auto& [id, log] : records_) {
      if (log.identity.office == office) out.push_back(id);
    }
    return out;
  }
  // True when some replica wrote the tombstone of `id` to true.
  bool deleted_somewhere(const std::string& id) const {
    auto it = records_.find(id);
    if (it == records_.end()) return false;
    auto field = it->second.fields.find(kDeletedField);
    if (field == it->second.fields.end()) return false;
    return std::any_of(field->second.writes.begin(), field->second.writes.end(),
                       [](const auto& entry) { return entry.second.value == true; });
  }

 private:
  std::map<std::string, RecordLog> records_;
};

}  // namespace fieldsync
