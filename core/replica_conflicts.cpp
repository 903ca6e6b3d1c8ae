// Conflicts: the fields where concurrent writes wait for a person, and settling one.
#include "core/replica.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/record_json.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"

namespace fieldsync {

std::vector<Conflict> Replica::conflicts() {
  std::vector<std::pair<std::string, std::string>> open;
  {
    Query q = store_->query("SELECT record_id, field FROM conflicts ORDER BY record_id, field");
    while (q.step()) open.emplace_back(q.text(0), q.text(1));
  }
  std::vector<Conflict> out;
  for (const auto& [id, field] : open) {
    auto record = find(id);
    if (!record) continue;
    for (auto& conflict : conflicts_of(*record, types_.find(record->type).get())) {
      if (conflict.field == field) out.push_back(std::move(conflict));
    }
  }
  return out;
}

Record Replica::resolve_conflict(const std::string& id_or_prefix, const std::string& field, const nlohmann::json& value) {
  Store::Transaction transaction(*store_);
  Record record = get(id_or_prefix);
  const std::string where = "record " + record.id;
  if (record.office != office_) {
    throw Error(Errc::invalid_input, "this record belongs to office " + record.office + ": its conflicts are settled there", where);
  }
  auto type = types_.find(record.type);
  const auto open = conflicts_of(record, type.get());
  if (std::none_of(open.begin(), open.end(), [&](const Conflict& c) { return c.field == field; })) {
    throw Error(Errc::not_found, "no open conflict on field '" + field + "'", where);
  }
  Record written;
  if (field == kDeletedField) {
    if (!value.is_boolean()) throw Error(Errc::invalid_input, "a revived record is settled with true (delete) or false (keep)", where);
    written = write_fields(std::move(record), {{field, value}});
  } else {
    if (!type) throw Error(Errc::not_found, "the data type '" + record.type + "' is not installed here", where);
    require_valid_utf8(value, where);
    // As an edit: at the plugin's version, migrated first (see Replica::edit).
    nlohmann::json fields = fields_for_type(*type, record.fields, record.schema_version, where);
    fields[field] = value;
    fields = type->normalize(std::move(fields));
    auto issues = type->check(fields);
    if (!issues.empty()) throw Error(Errc::validation, "the chosen value breaks the rules of " + record.type, where, std::move(issues));
    written = write_edit(std::move(record), fields, *type, field);
  }
  transaction.commit();
  return written;
}

}  // namespace fieldsync
