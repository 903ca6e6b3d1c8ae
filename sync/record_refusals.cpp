#include "sync/record_refusals.hpp"

#include "core/text.hpp"

namespace fieldsync::protocol {
namespace {

// Ids and messages echo what the request said (a type name, an id): bounded, so an answer
// listing thousands of records stays small whatever they held.
constexpr std::size_t kIdChars = 64;
constexpr std::size_t kMessageChars = 400;
constexpr std::size_t kIssuesPerRecord = 20;

// At most `max_chars` characters of `s`, cut as text.hpp's truncate cuts (never inside a
// character); the common short text is taken as it is, without a grapheme walk.
std::string bounded(const std::string& s, std::size_t max_chars) {
  return s.size() <= max_chars ? s : text::truncate(s, max_chars);
}

std::string text_or_empty(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

HttpResponse refusal_response(const std::vector<RecordRefusal>& refusals) {
  if (refusals.empty()) throw Error(Errc::internal, "a page refused for no record");
  const RecordRefusal& first = refusals.front();
  nlohmann::json records = nlohmann::json::array();
  for (const auto& refusal : refusals) {
    nlohmann::json entry{{"id", bounded(refusal.id, kIdChars)},
                         {"status", refusal.status},
                         {"code", refusal.code},
                         {"message", bounded(refusal.message, kMessageChars)}};
    if (!refusal.issues.empty()) {
      auto& issues = entry["issues"] = nlohmann::json::array();
      for (std::size_t i = 0; i < refusal.issues.size() && i < kIssuesPerRecord; ++i) {
        const FieldIssue& issue = refusal.issues[i];
        issues.push_back({{"field", bounded(issue.field, kIdChars)}, {"rule", issue.rule}, {"message", bounded(issue.message, kMessageChars)}});
      }
    }
    records.push_back(std::move(entry));
  }
  nlohmann::json error{{"code", first.code}, {"message", bounded(first.message, kMessageChars)}, {"records", std::move(records)}};
  HttpResponse response;
  response.status = first.status;
  // Replace, not throw, on invalid UTF-8 (an id cut by bytes from a hostile request).
  response.body = nlohmann::json{{"error", std::move(error)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

std::vector<RecordRefusal> refusals_of(const nlohmann::json& answer) {
  std::vector<RecordRefusal> out;
  if (!answer.is_object()) return out;
  const auto error = answer.find("error");
  if (error == answer.end() || !error->is_object()) return out;
  const auto records = error->find("records");
  if (records == error->end() || !records->is_array()) return out;
  for (const auto& entry : *records) {
    if (!entry.is_object()) return {};
    RecordRefusal refusal;
    refusal.id = text_or_empty(entry, "id");
    const auto status = entry.find("status");
    if (refusal.id.empty() || status == entry.end() || !status->is_number_integer()) return {};
    refusal.status = status->get<int>();
    if (refusal.status != 400 && refusal.status != 403) return {};
    refusal.code = bounded(text_or_empty(entry, "code"), kIdChars);
    refusal.message = bounded(text_or_empty(entry, "message"), kMessageChars);
    if (const auto issues = entry.find("issues"); issues != entry.end() && issues->is_array()) {
      for (const auto& issue : *issues) {
        if (!issue.is_object() || refusal.issues.size() == kIssuesPerRecord) break;
        refusal.issues.push_back(FieldIssue{bounded(text_or_empty(issue, "field"), kIdChars),
                                            bounded(text_or_empty(issue, "rule"), kIdChars),
                                            bounded(text_or_empty(issue, "message"), kMessageChars)});
      }
    }
    out.push_back(std::move(refusal));
  }
  return out;
}

}  // namespace fieldsync::protocol
