// A quick check of a sync request's and a sync answer's shape in code.
#pragma once

#include <nlohmann/json.hpp>

namespace fieldsync::protocol {

// Quick checks of the protocol's shapes in code, for bodies as parse_body returns them (valid
// UTF-8, at most tuning::kJsonMaxDepth deep, no key twice). Each only ever says yes to what its
// schema accepts, and may say no to some of that (a text over 200 bytes that still has at most
// 200 characters): its no sends the body to the validator, which decides and words the refusal.
// A page of thousands of records thus costs a walk over its keys instead of valijson's over
// every value: HQ's for a push, the laptop's for a pull.
bool is_sync_request_shape(const nlohmann::json& body);
bool is_sync_response_shape(const nlohmann::json& body);

// What the schemas themselves say of `body` (schemas/protocol/sync_request.schema.json and
// sync_response.schema.json, with the record-change schema in place), for tests that hold the
// quick checks to them.
bool request_schema_accepts(const nlohmann::json& body);
bool response_schema_accepts(const nlohmann::json& body);

}  // namespace fieldsync::protocol
