// The one-line listing of an activity, and what it tells HQ's report.
#include "plugins/activity/activity_rules.hpp"
#include "plugins/support/field_values.hpp"
#include "plugins/support/programme_of_action.hpp"
#include "plugins/support/summary_line.hpp"

namespace fieldsync::plugin_activity {

using plugin_support::number_of;
using plugin_support::text_of;

std::string summarize(const nlohmann::json& fields) {
  if (!fields.is_object()) return {};
  plugin_support::SummaryLine line;  // the parts after the goal
  line.add(text_of(fields, "kind"))
      .add(text_of(fields, "status"))
      .add_dates(text_of(fields, "start_date"), text_of(fields, "end_date"))
      .add_text(text_of(fields, "place"))
      .add_text(text_of(fields, "title"));
  const std::string goal = text_of(fields, "goal");
  if (goal.empty()) return line.str();
  return line.str().empty() ? "[" + goal + "]" : "[" + goal + "] " + line.str();
}

std::vector<ReportFigure> report_figures() {
  return {{"participants", "Participants", "Participants", "المشاركون"},
          {"amount_usd", "Amount (USD)", "Montant (USD)", "المبلغ (دولار)"}};
}

ReportFacts report_facts(const nlohmann::json& fields) {
  ReportFacts facts = plugin_support::programme_facts(fields, "start_date");
  for (const char* figure : {"participants", "amount_usd"}) {
    if (const auto value = number_of(fields, figure)) facts.figures[figure] = *value;
  }
  return facts;
}

}  // namespace fieldsync::plugin_activity
