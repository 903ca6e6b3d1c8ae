// A quick check of a sync request's shape in code.
#pragma once

#include <nlohmann/json.hpp>

namespace fieldsync::protocol {

// A quick check of the protocol's shape in code, for bodies as parse_body returns them (valid
// UTF-8, at most tuning::kJsonMaxDepth deep). It only ever says yes to what the schema accepts,
// and may say no to some of that (a text over 200 bytes that still has at most 200 characters):
// its no sends the body to the validator, which decides and words the refusal. A push page of
// thousands of records thus costs a walk over its keys instead of valijson's over every value.
bool is_sync_request_shape(const nlohmann::json& body);

// What the schema itself says of `body` (schemas/protocol/sync_request.schema.json with the
// record-change schema in place), for tests that hold the quick check to it.
bool request_schema_accepts(const nlohmann::json& body);

}  // namespace fieldsync::protocol
