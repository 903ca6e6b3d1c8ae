#include "core/merge.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace fieldsync {
namespace {

bool by_version(const FieldWrite& a, const FieldWrite& b) { return a.version < b.version; }

bool is_replaced(const std::vector<FieldVersion>& replaced, const FieldVersion& version) {
  return std::binary_search(replaced.begin(), replaced.end(), version);
}

// Numbers compare as numbers, text as text; a number sorts before text so mixed values (only
// possible without a plugin's schema) still have one order on every replica.
bool value_less(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_number() != b.is_number()) return a.is_number();
  return a.dump() < b.dump();
}

}  // namespace

FieldState initial_state(FieldWrite write) {
  FieldState state;
  state.heads.push_back(std::move(write));
  return state;
}

bool merge_field(FieldState& state, const FieldState& incoming) {
  std::vector<FieldVersion> replaced;
  replaced.reserve(state.replaced.size() + incoming.replaced.size());
  std::set_union(state.replaced.begin(), state.replaced.end(), incoming.replaced.begin(), incoming.replaced.end(),
                 std::back_inserter(replaced));
  std::vector<FieldWrite> heads;
  heads.reserve(state.heads.size() + incoming.heads.size());
  auto a = state.heads.begin();
  auto b = incoming.heads.begin();
  // A version names one write, so equal versions are the same write: keep one.
  while (a != state.heads.end() || b != incoming.heads.end()) {
    const FieldWrite* next;
    if (b == incoming.heads.end() || (a != state.heads.end() && a->version < b->version)) {
      next = &*a++;
    } else if (a == state.heads.end() || b->version < a->version) {
      next = &*b++;
    } else {
      next = &*a++;
      ++b;
    }
    if (!is_replaced(replaced, next->version)) heads.push_back(*next);
  }
  if (heads == state.heads && replaced == state.replaced) return false;
  state.heads = std::move(heads);
  state.replaced = std::move(replaced);
  return true;
}

FieldState write_over(const FieldState& current, FieldWrite write) {
  FieldState next;
  next.replaced = current.replaced;
  for (const auto& head : current.heads) next.replaced.push_back(head.version);
  std::sort(next.replaced.begin(), next.replaced.end());
  next.replaced.erase(std::unique(next.replaced.begin(), next.replaced.end()), next.replaced.end());
  next.heads.push_back(std::move(write));
  return next;
}

const FieldWrite& latest_head(const FieldState& state) {
  if (state.heads.empty()) throw Error(Errc::internal, "a field state without any write");
  return state.heads.back();  // heads are sorted by version
}

nlohmann::json resolved_value(const FieldState& state, MergePolicy policy) {
  if (state.heads.empty()) return nullptr;
  switch (policy) {
    case MergePolicy::lww:
    case MergePolicy::review:
      return latest_head(state).value;
    case MergePolicy::union_set: {
      std::vector<nlohmann::json> items;
      bool any = false;
      for (const auto& head : state.heads) {
        if (head.value.is_null()) continue;
        any = true;
        if (head.value.is_array()) {
          items.insert(items.end(), head.value.begin(), head.value.end());
        } else {
          items.push_back(head.value);
        }
      }
      if (!any) return nullptr;
      std::sort(items.begin(), items.end(), value_less);
      items.erase(std::unique(items.begin(), items.end()), items.end());
      return nlohmann::json(items);
    }
    case MergePolicy::max:
    case MergePolicy::min: {
      const nlohmann::json* best = nullptr;
      for (const auto& head : state.heads) {
        if (head.value.is_null()) continue;
        if (best == nullptr || (policy == MergePolicy::max ? value_less(*best, head.value) : value_less(head.value, *best))) {
          best = &head.value;
        }
      }
      return best ? *best : nlohmann::json(nullptr);
    }
  }
  return latest_head(state).value;
}

bool has_conflict(const FieldState& state, MergePolicy policy) {
  // Concurrent writes of one value (two officers both marking an activity implemented, one
  // import file read on two laptops) agree: nothing waits for a person.
  if (policy != MergePolicy::review || state.heads.size() < 2) return false;
  return std::any_of(state.heads.begin() + 1, state.heads.end(),
                     [&](const FieldWrite& head) { return head.value != state.heads.front().value; });
}

nlohmann::json field_state_to_json(const FieldState& state) {
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& head : state.heads) heads.push_back({head.version.hlc, head.version.replica, head.value, head.author});
  nlohmann::json replaced = nlohmann::json::array();
  for (const auto& version : state.replaced) replaced.push_back({version.hlc, version.replica});
  return {{"h", std::move(heads)}, {"r", std::move(replaced)}};
}

FieldState field_state_from_json(const nlohmann::json& json, const std::string& field) {
  auto fail = [&](const std::string& why) {
    throw Error(Errc::invalid_input, "the state of field '" + field + "' is malformed: " + why, "",
                {FieldIssue{field, "field_state", why}});
  };
  auto version_of = [&](const nlohmann::json& pair) {
    if (!pair.is_array() || pair.size() < 2 || !pair[0].is_number_unsigned() || !pair[1].is_string() ||
        pair[1].get_ref<const std::string&>().empty()) {
      fail("a version must be [hlc, \"replica\"]");
    }
    return FieldVersion{pair[0].get<Hlc>(), pair[1].get<std::string>()};
  };
  if (!json.is_object() || !json.contains("h") || !json["h"].is_array() || json["h"].empty()) {
    fail("it needs at least one write in \"h\"");
  }
  FieldState state;
  for (const auto& head : json["h"]) {
    if (!head.is_array() || head.size() != 4 || !head[3].is_string()) fail("a write must be [hlc, \"replica\", value, \"author\"]");
    state.heads.push_back(FieldWrite{version_of(head), head[2], head[3].get<std::string>()});
  }
  if (json.contains("r")) {
    if (!json["r"].is_array()) fail("\"r\" must be a list of versions");
    for (const auto& pair : json["r"]) state.replaced.push_back(version_of(pair));
  }
  // Canonical order, whatever the sender did: the same state is the same bytes everywhere.
  std::sort(state.heads.begin(), state.heads.end(), by_version);
  // One version names one write: the same version twice is a repetition, never two values.
  for (std::size_t i = 1; i < state.heads.size(); ++i) {
    if (state.heads[i].version == state.heads[i - 1].version && !(state.heads[i] == state.heads[i - 1])) {
      fail("version (" + std::to_string(state.heads[i].version.hlc) + ", \"" + state.heads[i].version.replica +
           "\") names two different writes");
    }
  }
  state.heads.erase(std::unique(state.heads.begin(), state.heads.end(),
                                [](const FieldWrite& a, const FieldWrite& b) { return a.version == b.version; }),
                    state.heads.end());
  std::sort(state.replaced.begin(), state.replaced.end());
  state.replaced.erase(std::unique(state.replaced.begin(), state.replaced.end()), state.replaced.end());
  std::erase_if(state.heads, [&](const FieldWrite& head) { return is_replaced(state.replaced, head.version); });
  if (state.heads.empty()) fail("every write in it is marked replaced");
  return state;
}

}  // namespace fieldsync
