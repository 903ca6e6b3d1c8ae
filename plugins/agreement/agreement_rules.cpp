#include "plugins/agreement/agreement_rules.hpp"

#include "plugins/support/field_dates.hpp"
#include "plugins/support/field_values.hpp"
#include "plugins/support/programme_of_action.hpp"
#include "plugins/support/summary_line.hpp"

namespace fieldsync::plugin_agreement {
namespace {

using plugin_support::text_of;

// Whether an agreement of this status was signed: everything past a draft was.
bool was_signed(const std::string& status) {
  return status == "signed" || status == "in_force" || status == "expired" || status == "terminated";
}

// The report's four statuses: a draft is planned, a signed agreement implemented (whether still in
// force or run its term), one ended before its term cancelled.
std::string report_status(const std::string& status) {
  if (status == "draft") return "planned";
  if (status == "signed" || status == "in_force" || status == "expired") return "implemented";
  if (status == "terminated") return "cancelled";
  return {};
}

}  // namespace

std::vector<FieldIssue> check_fields(const nlohmann::json& fields) {
  std::vector<FieldIssue> issues;
  if (!fields.is_object()) return issues;
  plugin_support::checked_date(fields, "signed_on", issues);
  plugin_support::check_date_order(fields, "valid_from", "valid_to", "valid_to_after_valid_from", issues);
  const std::string status = text_of(fields, "status");
  if (was_signed(status) && !fields.contains("signed_on")) {
    issues.push_back({"signed_on", "signed_needs_date", "an agreement that is " + status + " needs the day it was signed"});
  }
  return issues;
}

std::string summarize(const nlohmann::json& fields) {
  if (!fields.is_object()) return {};
  plugin_support::SummaryLine line;
  line.add(text_of(fields, "kind"))
      .add(text_of(fields, "status"))
      .add(text_of(fields, "signed_on"))
      .add_text(text_of(fields, "place"))
      .add_text(text_of(fields, "title"));
  if (const auto parties = fields.find("parties"); parties != fields.end() && parties->is_array()) {
    line.add(std::to_string(parties->size()) + (parties->size() == 1 ? " party" : " parties"));
  }
  return line.str();
}

std::vector<ReportFigure> report_figures() {
  return {{"agreements_signed", "Agreements signed", "Accords signés", "الاتفاقيات الموقعة"}};
}

ReportFacts report_facts(const nlohmann::json& fields) {
  ReportFacts facts;
  facts.date = text_of(fields, "signed_on");
  if (facts.date.empty()) facts.date = text_of(fields, "valid_from");
  const std::string status = text_of(fields, "status");
  facts.status = report_status(status);
  facts.priority_areas = plugin_support::priority_areas_of(fields, "scope");
  if (!status.empty()) facts.figures["agreements_signed"] = facts.status == "implemented" ? 1 : 0;
  return facts;
}

}  // namespace fieldsync::plugin_agreement
