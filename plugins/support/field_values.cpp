#include "plugins/support/field_values.hpp"

#include <limits>

namespace fieldsync::plugin_support {

std::string text_of(const nlohmann::json& fields, const std::string& field) {
  if (!fields.is_object()) return {};
  const auto it = fields.find(field);
  if (it == fields.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::optional<double> number_of(const nlohmann::json& fields, const std::string& field) {
  if (!fields.is_object()) return std::nullopt;
  const auto it = fields.find(field);
  if (it == fields.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<long long> integer_of(const nlohmann::json& fields, const std::string& field) {
  if (!fields.is_object()) return std::nullopt;
  const auto it = fields.find(field);
  if (it == fields.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<unsigned long long>() > static_cast<unsigned long long>(
                                                                       std::numeric_limits<long long>::max())) {
    return std::nullopt;
  }
  return it->get<long long>();
}

}  // namespace fieldsync::plugin_support
