// How records and their history look to a person on a terminal.
#pragma once

#include <iosfwd>
#include <vector>

#include "core/record.hpp"
#include "core/replica.hpp"

namespace fieldsync::cli {

// "0190a1b2-…  NER  activity  [2.8.3] workshop · …" — one line per record.
void print_record_line(std::ostream& out, Replica& replica, const Record& record);
// The whole record, one field per line, with when and where each field was last written.
void print_record(std::ostream& out, Replica& replica, const Record& record);
void print_history(std::ostream& out, const Record& record, const std::vector<HistoryEntry>& history);

// A record as --json prints it in listings: record_to_json plus "summary".
nlohmann::json record_listing_json(Replica& replica, const Record& record);

}  // namespace fieldsync::cli
