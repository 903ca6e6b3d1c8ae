// Every batch size, limit and timeout of FieldSync, named in one place with the reason for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fieldsync::tuning {

// Records per transaction in `fieldsync import`. Each commit is an fsync (synchronous=FULL), so
// larger batches are faster; but a power cut loses the batch in flight and progress is reported
// per batch. 1,000 activity records commit in a few tens of milliseconds.
inline constexpr std::size_t kImportBatchSize = 1000;

// Batches an import checks (on threads of their own) ahead of the one it writes. Checking costs
// about twice what writing does, so two in flight keep both cores of a field laptop busy while
// holding only a few MB of lines in memory.
inline constexpr std::size_t kImportBatchesAhead = 2;

// How long a command waits for another fieldsync process holding the replica's write lock.
inline constexpr int kStoreBusyTimeoutMillis = 10'000;

// Characters of a record's title shown in a one-line listing.
inline constexpr std::size_t kSummaryTitleChars = 80;

// Minimum length of an id prefix a user may type instead of the whole UUID.
inline constexpr std::size_t kMinIdPrefix = 8;

}  // namespace fieldsync::tuning
