#include "plugins/distribution/distribution_rules.hpp"

#include "plugins/support/field_dates.hpp"
#include "plugins/support/field_values.hpp"
#include "plugins/support/programme_of_action.hpp"
#include "plugins/support/summary_line.hpp"

namespace fieldsync::plugin_distribution {

using plugin_support::integer_of;
using plugin_support::text_of;

MergePolicy merge_policy_of(const std::string& field) {
  // Two officers may each add a partner that took part.
  if (field == "partners") return MergePolicy::union_set;
  // A later, fuller head count should not be lost to an earlier partial one.
  if (field == "households" || field == "individuals") return MergePolicy::max;
  // Two different quantities for one handout, or cancelled against implemented: a person decides.
  if (field == "quantity" || field == "status") return MergePolicy::review;
  return MergePolicy::lww;
}

const plugin_support::NormalForm& normal_form() {
  static const plugin_support::NormalForm form{
      .sets = {"partners"}, .upper_codes = {"country"}, .lower_codes = {"language"}};
  return form;
}

std::vector<FieldIssue> check_fields(const nlohmann::json& fields) {
  std::vector<FieldIssue> issues;
  if (!fields.is_object()) return issues;
  plugin_support::checked_date(fields, "date", issues);
  plugin_support::check_goal_in_area(fields, issues);
  const auto households = integer_of(fields, "households");
  const auto individuals = integer_of(fields, "individuals");
  if (households && individuals && *individuals < *households) {
    issues.push_back({"individuals", "individuals_at_least_households",
                      "counts " + std::to_string(*individuals) + " people in " + std::to_string(*households) +
                          " households: a household is at least one person"});
  }
  return issues;
}

std::string summarize(const nlohmann::json& fields) {
  if (!fields.is_object()) return {};
  plugin_support::SummaryLine line;
  line.add_text(text_of(fields, "commodity"));
  if (const auto quantity = fields.find("quantity"); quantity != fields.end() && quantity->is_number()) {
    const std::string unit = text_of(fields, "unit");
    line.add(quantity->dump() + (unit.empty() ? "" : " " + unit));
  }
  if (const auto households = integer_of(fields, "households")) {
    line.add(std::to_string(*households) + (*households == 1 ? " household" : " households"));
  }
  line.add(text_of(fields, "status")).add(text_of(fields, "date")).add_text(text_of(fields, "location"));
  return line.str();
}

std::vector<ReportFigure> report_figures() {
  return {{"households_reached", "Households reached", "Ménages atteints", "الأسر المستفيدة"},
          {"individuals_reached", "People reached", "Personnes atteintes", "الأفراد المستفيدون"}};
}

ReportFacts report_facts(const nlohmann::json& fields) {
  ReportFacts facts = plugin_support::programme_facts(fields, "date");
  const bool reached = facts.status == "implemented";
  if (const auto households = integer_of(fields, "households")) {
    facts.figures["households_reached"] = reached ? static_cast<double>(*households) : 0;
  }
  if (const auto individuals = integer_of(fields, "individuals")) {
    facts.figures["individuals_reached"] = reached ? static_cast<double>(*individuals) : 0;
  }
  return facts;
}

}  // namespace fieldsync::plugin_distribution
