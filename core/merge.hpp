// Merge: the one function that reconciles what replicas know of a field (DESIGN.md, Merge).
//
// A field's state is the set of writes nobody has replaced yet (its heads) plus every version
// known to be replaced. A local write replaces all current heads; writes made without seeing
// each other are concurrent and both stay heads until someone writes over them. Joining two
// states is set union (heads minus everything replaced), so merge_field is commutative,
// associative and idempotent: replicas that have received the same writes, in any order and
// any number of times, hold identical states. This is what makes sync converge.
//
// What a person sees is the state resolved by the field's policy: the latest head (lww,
// review), the union of the heads' sets (union), their maximum or minimum (max, min). Under
// `review`, more than one head is a conflict for a person to resolve.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"
#include "core/hlc.hpp"

namespace fieldsync {

// One write of one field: the value (null when the write removed the field), who wrote it.
struct FieldWrite {
  FieldVersion version;
  nlohmann::json value;
  std::string author;

  bool operator==(const FieldWrite&) const = default;
};

struct FieldState {
  std::vector<FieldWrite> heads;         // sorted by version; empty only for an unknown field
  std::vector<FieldVersion> replaced;    // sorted, unique

  bool operator==(const FieldState&) const = default;
};

// A state holding one write that replaced nothing (a record's creation).
FieldState initial_state(FieldWrite write);

// Joins `incoming` into `state`. Returns true when `state` changed.
bool merge_field(FieldState& state, const FieldState& incoming);

// The state after a local write of `value` that replaces every current head. The write's
// version must be newer than every head (the replica's clock has observed them).
FieldState write_over(const FieldState& current, FieldWrite write);

// The head with the greatest version. Requires a non-empty state.
const FieldWrite& latest_head(const FieldState& state);

// The value a person sees under `policy` (null: the field is absent).
nlohmann::json resolved_value(const FieldState& state, MergePolicy policy);

// True when `policy` asks a person to choose between the state's heads, and they hold more than
// one value.
bool has_conflict(const FieldState& state, MergePolicy policy);

// JSON forms, for the store and the wire:
//   {"h": [[hlc, "replica", value, "author"], …], "r": [[hlc, "replica"], …]}
nlohmann::json field_state_to_json(const FieldState& state);
// Throws Error(invalid_input) naming `field` when `json` is not of that shape.
FieldState field_state_from_json(const nlohmann::json& json, const std::string& field);

}  // namespace fieldsync
