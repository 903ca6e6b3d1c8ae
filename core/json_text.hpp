// JSON text for storing: the bytes nlohmann's dump() gives, without its serializer.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync {

// The text value.dump() gives, byte for byte (compact, UTF-8 as it is, keys in order), written
// without nlohmann's serializer, which decodes every byte of every string: it is most of what
// storing a record costs. A float is written by dump() itself; a document with text that is not
// valid UTF-8 goes to dump() whole, which refuses it as ever.
std::string json_text(const nlohmann::json& value);

}  // namespace fieldsync
