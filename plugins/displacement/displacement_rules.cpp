#include "plugins/displacement/displacement_rules.hpp"

#include "plugins/support/field_dates.hpp"
#include "plugins/support/field_values.hpp"
#include "core/text.hpp"
#include "plugins/support/summary_line.hpp"

namespace fieldsync::plugin_displacement {
namespace {

using plugin_support::integer_of;
using plugin_support::text_of;

struct Group {
  const char* field;
  const char* label;  // in a listing
};
constexpr Group kGroups[] = {{"refugees", "refugees"}, {"idps", "IDPs"}, {"returnees", "returnees"}};

}  // namespace

std::vector<FieldIssue> check_fields(const nlohmann::json& fields) {
  std::vector<FieldIssue> issues;
  if (!fields.is_object()) return issues;
  plugin_support::checked_date(fields, "date", issues);
  bool any = false;
  long long people = 0;  // the schema bounds nothing: a sum past long long is no count anyone made
  bool summable = true;
  for (const auto& group : kGroups) {
    if (!fields.contains(group.field)) continue;
    any = true;
    const auto count = integer_of(fields, group.field);
    if (!count || *count < 0 || *count > (1LL << 50)) {
      summable = false;  // the schema reports it
    } else {
      people += *count;
    }
  }
  if (!any) {
    issues.push_back({"refugees", "a_count_needed", "a count gives at least one of refugees, idps and returnees"});
  }
  const auto households = integer_of(fields, "households");
  if (any && summable && households && *households > people) {
    issues.push_back({"households", "households_at_most_people",
                      std::to_string(*households) + " households for " + std::to_string(people) +
                          " people counted: a household is at least one person"});
  }
  return issues;
}

std::string summarize(const nlohmann::json& fields) {
  if (!fields.is_object()) return {};
  plugin_support::SummaryLine line;
  line.add_text(text_of(fields, "site")).add(text_of(fields, "date"));
  for (const auto& group : kGroups) {
    if (const auto count = integer_of(fields, group.field)) line.add(std::to_string(*count) + " " + group.label);
  }
  const std::string origin = text_of(fields, "origin");
  if (!origin.empty()) line.add("from " + text::isolate(text::truncate(origin, plugin_support::SummaryLine::kTextChars)));
  return line.str();
}

std::vector<ReportFigure> report_figures() {
  return {{"people_counted", "Displaced people counted", "Personnes déplacées recensées", "النازحون المسجلون"},
          {"refugees", "Refugees", "Réfugiés", "اللاجئون"},
          {"idps", "Internally displaced people", "Personnes déplacées internes", "النازحون داخليا"},
          {"returnees", "Returnees", "Rapatriés", "العائدون"}};
}

ReportFacts report_facts(const nlohmann::json& fields) {
  ReportFacts facts;
  facts.date = text_of(fields, "date");
  double people = 0;
  bool any = false;
  for (const auto& group : kGroups) {
    if (const auto count = integer_of(fields, group.field); count && *count >= 0) {
      facts.figures[group.field] = static_cast<double>(*count);
      people += static_cast<double>(*count);
      any = true;
    }
  }
  if (any) facts.figures["people_counted"] = people;
  return facts;
}

}  // namespace fieldsync::plugin_displacement
