#include "tests/fixture_plugins/note_type.hpp"

namespace fieldsync::fixture {
namespace {

// Deliberately tiny: the plugin-host tests exercise loading, not validation, so the fields check
// is written out by hand rather than through SchemaValidator.
class NoteType final : public DataType {
 public:
  // From version 3 the title is called heading: a version that leaves out a field of the older
  // ones, which HQ refuses to publish after them.
  explicit NoteType(int version) : version_(version), field_(version >= 3 ? "heading" : "title") {
    schema_ = {{"type", "object"}, {"properties", {{field_, {{"type", "string"}}}}}, {"required", {field_}}};
  }

  std::string name() const override { return "note"; }
  std::string description() const override { return "A note (test fixture)"; }
  int schema_version() const override { return version_; }
  const nlohmann::json& schema() const override { return schema_; }
  MergePolicy merge_policy(const std::string&) const override { return MergePolicy::lww; }
  nlohmann::json normalize(nlohmann::json fields) const override { return fields; }
  std::vector<FieldIssue> check(const nlohmann::json& fields) const override {
    if (fields.is_object() && fields.contains(field_) && fields[field_].is_string()) return {};
    return {{field_, "required", "a note needs a " + field_ + " (text)"}};
  }
  nlohmann::json migrate(nlohmann::json fields, int) const override { return fields; }
  std::string summary(const nlohmann::json& fields) const override {
    return fields.value(field_, std::string());
  }
  std::vector<ReportFigure> report_figures() const override { return {}; }
  ReportFacts report_facts(const nlohmann::json&) const override { return {}; }

 private:
  int version_;
  std::string field_;
  nlohmann::json schema_;
};

}  // namespace

std::unique_ptr<DataType> make_note_type(int version) { return std::make_unique<NoteType>(version); }

}  // namespace fieldsync::fixture
