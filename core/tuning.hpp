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

// --- HQ's HTTPS server (sync/http_server) ---

// Largest request body HQ accepts, both as sent and after decompression (a zstd "bomb" of a few
// KB must not expand past it). Sync pages are bounded by the protocol; 16 MiB holds many thousand
// field changes, yet a hostile client can make HQ buffer no more than this per connection.
inline constexpr std::size_t kHttpMaxBodyBytes = 16 * 1024 * 1024;

// Largest request header block. Our clients send a handful of short headers; twice Beast's
// default of 8 KiB leaves room for a long bearer token.
inline constexpr std::uint32_t kHttpMaxHeaderBytes = 16 * 1024;

// Seconds a connection may make no progress: the TLS handshake, a whole request header (this
// includes a keep-alive connection's idle wait for its next request) and each read of a body.
// Enough for the round trips of a satellite link; short enough that a stalled or slow-loris
// client soon gives its socket back.
inline constexpr int kHttpReadTimeoutSeconds = 30;

// Seconds for a whole request body, however it trickles in: 16 MiB at 256 kbit/s (a poor field
// link) takes about 9 minutes. Caps how long a client that sends one byte a second holds a socket.
inline constexpr int kHttpBodyTimeoutSeconds = 600;

// Seconds to write one response; a client that stops reading is cut off after this.
inline constexpr int kHttpWriteTimeoutSeconds = 60;

// Seconds HttpServer::stop() lets requests in flight finish before closing their connections.
// Idle keep-alive connections are closed at once; a sync request normally takes well under one.
inline constexpr int kHttpStopGraceSeconds = 10;

// Seconds spent closing a connection: waiting for the client's TLS close_notify, or discarding the
// unread rest of a body refused with 413 (closing with unread data sends a TCP reset, and the
// client may then lose the 413 before reading it).
inline constexpr int kHttpCloseTimeoutSeconds = 2;

// Bytes of an unread refused body discarded while closing (see kHttpCloseTimeoutSeconds); past
// this the connection is closed anyway.
inline constexpr std::size_t kHttpLingerBytes = 1024 * 1024;

// Threads doing network I/O and TLS, and threads running request handlers (which may block on
// SQLite), kept apart so a slow handler never delays handshakes, timeouts or other clients.
inline constexpr std::size_t kHttpIoThreads = 2;
inline constexpr std::size_t kHttpHandlerThreads = 4;

// Open connections at most; more are closed on accept. Half of the usual 1024 file-descriptor
// limit, leaving the rest for SQLite, plugins and logs.
inline constexpr std::size_t kHttpMaxConnections = 512;

// --- body compression (sync/compression) ---

// zstd level for sync bodies: zstd's default, about 3x on JSON at hundreds of MB/s.
inline constexpr int kZstdLevel = 3;

// Largest zstd window (log2 bytes) a decompressor accepts: 8 MiB covers levels up to 19, and a
// frame asking for more (up to 2 GB) is refused instead of allocated.
inline constexpr int kZstdMaxWindowLog = 23;

// gzip (zlib) level for clients without zstd: zlib's default trade-off.
inline constexpr int kGzipLevel = 6;

// --- HQ's TLS identity (sync/tls_identity) ---

// The CA that devices pin at enrollment: replacing it means re-enrolling every device, so it
// lives long.
inline constexpr long kTlsCaValidityDays = 3650;

// The server certificate the CA signs: renewed without touching devices, so it can be shorter.
inline constexpr long kTlsServerValidityDays = 730;

// --- the sync conversation (sync/sync_client, sync/hq_service) ---

// Records a replica pushes per request. A page is stored in one transaction at HQ and
// acknowledged as a whole, so a cut link loses at most this much work in flight; 200 activity
// records are ~100 KB of JSON, ~25 KB compressed: seconds even on a poor satellite link.
inline constexpr std::size_t kSyncPushPageRecords = 200;

// Records HQ accepts in one request; more is a client bug or an attack (413).
inline constexpr std::size_t kSyncMaxPushRecords = 1000;

// Records HQ sends back per answer at most (the replica may ask for fewer).
inline constexpr std::size_t kSyncPullPageRecords = 500;

// Requests one `fieldsync sync` makes at most before it stops and says so: bounds a sync that
// would otherwise never end (a peer that keeps answering "more").
inline constexpr std::size_t kSyncMaxRequests = 10000;

// How far ahead of HQ's clock a pushed version may be stamped. Laptop clocks drift by seconds
// to minutes; past this, HQ answers "clock_ahead" and the replica re-stamps its unsent writes
// with HQ's time, so a laptop whose clock runs days ahead cannot win every conflict.
inline constexpr std::int64_t kMaxClockAheadMillis = 5 * 60 * 1000;

// Timeouts of the sync client: connecting, and one whole request (a page each way).
inline constexpr int kSyncConnectTimeoutSeconds = 20;
inline constexpr int kSyncRequestTimeoutSeconds = 120;

// Largest answer the sync client accepts (after decompression).
inline constexpr std::size_t kSyncMaxResponseBytes = 64 * 1024 * 1024;

// --- the sync client's HTTPS transport (sync/https_client) ---

// Seconds the client keeps an idle connection to HQ for the next page. Below HQ's
// kHttpReadTimeoutSeconds (30), so the client never sends a page on a connection HQ is just
// closing (a race that fails the request); a new TLS handshake costs one or two round trips.
inline constexpr long kHttpsMaxIdleConnectionSeconds = 20;

}  // namespace fieldsync::tuning
