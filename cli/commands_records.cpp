// add, edit, delete: the writes a field officer makes by hand.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/field_args.hpp"
#include "cli/record_view.hpp"
#include "core/record_json.hpp"

namespace fieldsync::cli {
namespace {

void report_written(const CommandState& state, Replica& replica, const Record& record, const char* verb) {
  if (state.options.json) {
    print_json(record_listing_json(replica, record));
  } else {
    std::cout << verb << " " << record.id << "  " << replica.summary(record) << "\n";
  }
}

}  // namespace

void register_record_commands(CLI::App& app, CommandState& state) {
  struct AddArgs {
    std::string type;
    std::vector<std::string> fields;
    std::string file;
  };
  auto add_args = std::make_shared<AddArgs>();
  auto* add = app.add_subcommand("add", "Log a new record: add TYPE field=value … or add TYPE --file F");
  add->add_option("type", add_args->type, "Data type, e.g. activity")->required();
  add->add_option("fields", add_args->fields, "field=value pairs");
  add->add_option("--file", add_args->file, "A JSON file holding the fields object ('-' for standard input)");
  add->callback([&state, add_args] {
    OpenReplica replica(state.options);
    if (!add_args->file.empty() && !add_args->fields.empty()) {
      throw Error(Errc::invalid_input, "give either field=value pairs or --file, not both");
    }
    std::optional<std::string> id;
    nlohmann::json fields;
    if (!add_args->file.empty()) {
      std::string file_id;
      fields = read_fields_file(add_args->file, file_id);
      if (!file_id.empty()) id = file_id;
    } else {
      auto type = replica.types().require(add_args->type);
      fields = parse_field_args(add_args->fields, type->schema());
    }
    const Record record = replica->add(add_args->type, std::move(fields), id);
    report_written(state, *replica, record, "Added");
  });

  struct EditArgs {
    std::string id;
    std::vector<std::string> fields;
    std::vector<std::string> unset;
  };
  auto edit_args = std::make_shared<EditArgs>();
  auto* edit = app.add_subcommand("edit", "Correct fields of a record: edit ID field=value …");
  edit->add_option("id", edit_args->id, "Record id (or its first 8+ characters)")->required();
  edit->add_option("fields", edit_args->fields, "field=value pairs");
  edit->add_option("--unset", edit_args->unset, "Remove a field from the record");
  edit->callback([&state, edit_args] {
    OpenReplica replica(state.options);
    const Record current = replica->get(edit_args->id);
    auto type = replica.types().find(current.type);
    nlohmann::json patch = parse_field_args(edit_args->fields, type ? type->schema() : nlohmann::json::object());
    for (const auto& field : edit_args->unset) patch[field] = nullptr;
    const Record record = replica->edit(current.id, patch);
    report_written(state, *replica, record, "Edited");
  });

  auto delete_id = std::make_shared<std::string>();
  auto* remove = app.add_subcommand("delete", "Delete a mistaken record (kept as a tombstone, synced, in the history)");
  remove->add_option("id", *delete_id, "Record id (or its first 8+ characters)")->required();
  remove->callback([&state, delete_id] {
    OpenReplica replica(state.options);
    const Record record = replica->remove(*delete_id);
    report_written(state, *replica, record, "Deleted");
  });
}

}  // namespace fieldsync::cli
