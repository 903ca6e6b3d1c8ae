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

// Deepest nesting (arrays and objects inside each other) of any JSON FieldSync reads from outside:
// files, import lines, sync bodies, HQ's answers, plugin schemas (core/json_input). The deepest
// legitimate document is a sync message at about 10 levels (body, changes, a change, its fields,
// a field state, its heads, a version) and a record's fields are 2 or 3; 64 leaves room for any
// plugin's shape while a hostile `[[[[…` is refused as it is parsed, long before any walk over it
// (valijson's, a dump, a copy) could run out of stack.
inline constexpr std::size_t kJsonMaxDepth = 64;

// --- HQ's HTTPS server (sync/transport/http_server) ---

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

// Threads HQ checks a pushed page's new records on, outside its store lock (Replica::check_as_new):
// the two cores of a small HQ machine. A page under 64 records is checked on one.
inline constexpr unsigned kHqCheckThreads = 2;

// malloc arenas of `fieldsync-hq serve` (glibc's default is 8 per core): see its main.
inline constexpr int kHqMallocArenas = 2;
// … and of `fieldsync` on a laptop: a sync's requests go out on a thread of their own (see
// SyncClient::converse), whose arena would keep a page's worth of freed memory besides the main
// thread's (measured over a 100,000-record push: 64 MB peak with the default, see the closing note).
inline constexpr int kLaptopMallocArenas = 1;

// Threads doing network I/O and TLS, and threads running request handlers (which may block on
// SQLite), kept apart so a slow handler never delays handshakes, timeouts or other clients.
inline constexpr std::size_t kHttpIoThreads = 2;
inline constexpr std::size_t kHttpHandlerThreads = 4;

// Open connections at most; more are closed on accept. Half of the usual 1024 file-descriptor
// limit, leaving the rest for SQLite, plugins and logs.
inline constexpr std::size_t kHttpMaxConnections = 512;

// Open connections at most from one client address (an IPv6 client: its /64, which one host
// controls whole). A field office's laptops may share one NAT address, each with a connection or
// two; 32 covers that, while one address holding idle sockets takes at most 1/16 of the global
// cap and cannot lock the other offices out.
inline constexpr std::size_t kHttpMaxConnectionsPerAddress = 32;

// Header fields in one request at most (431 past it), and the longest request target (414). Our
// clients send under a dozen headers and targets like "/v1/sync"; the byte limit alone would
// let a request carry thousands of one-letter headers, each a map entry to build.
inline constexpr std::size_t kHttpMaxHeaderFields = 64;
inline constexpr std::size_t kHttpMaxTargetBytes = 2048;

// Requests per second and burst (token bucket) one office's token may make; past it, 429 with
// Retry-After. A laptop's usual sync is a handful of requests; a first sync of 100,000 records
// is 500 push pages of kSyncPushPageRecords plus pull pages, sent one after another as fast as HQ
// answers: the burst of 1,000 covers such a sync whole however fast HQ is, and 20/s afterwards
// (4,000 records a second) still lets it finish at full speed on any real link. A runaway or
// stolen token is held to 20 requests a second.
inline constexpr double kHttpRatePerSecond = 20;
inline constexpr std::size_t kHttpRateBurst = 1000;

// The same for requests without a valid token (health probes, wrong or revoked tokens), counted
// per client address (all laptops of an office behind one NAT share it): a few probes a minute
// are normal, and a monitor or test suite may probe after every step; a flood of token guesses
// gets 429 after 100 and is then held to 5 a second, each costing HQ one hash.
inline constexpr double kHttpAnonymousRatePerSecond = 5;
inline constexpr std::size_t kHttpAnonymousBurst = 100;

// Keys (tokens, addresses) a rate limiter remembers at most. Idle keys (bucket full again) are
// forgotten first, then the least recently seen: memory stays bounded under a flood from many
// addresses. 16,384 entries are about 2 MB.
inline constexpr std::size_t kHttpRateLimiterKeys = 16384;

// --- body compression (sync/transport/compression) ---

// zstd level for sync bodies: zstd's default, about 3x on JSON at hundreds of MB/s.
inline constexpr int kZstdLevel = 3;

// Bodies of at least kZstdBulkBytes (sync pages of many records) get a higher level: on a
// satellite link bytes, not CPU, decide how long a first sync takes. Measured on pages of 5,000
// variants.py changes (3.9 MB of JSON), as zstd's own benchmark (`zstd -b`) reports them: level 10
// with a 2 MB window and 2^19-entry hash and chain tables (10 MB of state) ~116 B a record at
// ~40 MB/s; level 7 with the same tables and matches of at least 6 bytes ~115 B at ~58 MB/s (the
// records share words and keys, not short fragments: a shorter minimum only finds matches that
// cost more than they save), level 6 so ~118 B at ~75 MB/s. The compressing is the laptop's
// largest CPU cost on a push and HQ's on a pull, and both run on the same two cores here.
inline constexpr std::size_t kZstdBulkBytes = 64 * 1024;
inline constexpr int kZstdBulkLevel = 7;
inline constexpr int kZstdBulkWindowLog = 21;
inline constexpr int kZstdBulkHashLog = 19;
inline constexpr int kZstdBulkChainLog = 19;
inline constexpr int kZstdBulkMinMatch = 6;

// Largest zstd window (log2 bytes) a decompressor accepts: 8 MiB covers levels up to 19, and a
// frame asking for more (up to 2 GB) is refused instead of allocated.
inline constexpr int kZstdMaxWindowLog = 23;

// gzip (zlib) level for clients without zstd: zlib's default trade-off.
inline constexpr int kGzipLevel = 6;

// --- HQ's TLS identity (sync/transport/tls_identity) ---

// The CA that devices pin at enrollment: replacing it means re-enrolling every device, so it
// lives long.
inline constexpr long kTlsCaValidityDays = 3650;

// The server certificate the CA signs: renewed without touching devices, so it can be shorter.
inline constexpr long kTlsServerValidityDays = 730;

// --- the sync conversation (sync/sync_client, sync/hq_service) ---

// Records a replica pushes per request at most, and HQ sends back per answer at most (the
// replica may ask for fewer). Pages are bounded by bytes first (below); these bound a page of
// tiny records. A page is stored in one transaction at HQ and acknowledged as a whole.
inline constexpr std::size_t kSyncPushPageRecords = 5000;
inline constexpr std::size_t kSyncPullPageRecords = 5000;

// Records HQ accepts in one request; more is a client bug or an attack (413).
inline constexpr std::size_t kSyncMaxPushRecords = 10000;

// Bytes of record JSON (before compression) per page, each way. A page starts small and doubles
// while pages go through quickly, up to the maximum; a page that fails on the network is sent
// again at half the size (a poor link gets small pages, so a cut loses little). Compressed, 64 KiB
// of activities is about 12 KB — a few seconds on a 64 kbit/s satellite link; 2 MiB is about
// 350 KB, under a second on loopback or a good 3G link, and zstd finds more to share in bigger
// pages (about 100 B a record at 2,000 records against 110 at 500).
inline constexpr std::size_t kSyncPageBytesMin = 64 * 1024;
inline constexpr std::size_t kSyncPageBytesStart = 512 * 1024;
inline constexpr std::size_t kSyncPageBytesMax = 2 * 1024 * 1024;

// A page answered within this many seconds lets the next one double (up to kSyncPageBytesMax).
inline constexpr double kSyncPageGrowSeconds = 5.0;

// Times one sync sends a failed page again (halved each time) before it gives up and reports
// the link down; the next sync starts again from kSyncPageBytesStart.
inline constexpr int kSyncPageRetries = 3;

// Feed rows HQ walks at most for one pull page. Rows an office's replica pushed itself are walked
// past without being sent (it has them), so after a first push of 100,000 records its next pull
// walks 100,000 rows and sends nothing: bounding the walk keeps each answer quick, and the
// replica's cursor still moves past them in a few pages.
inline constexpr std::size_t kFeedMaxRowsWalked = 50'000;

// Requests one `fieldsync sync` makes at most before it stops and says so: bounds a sync that
// would otherwise never end (a peer that keeps answering "more").
inline constexpr std::size_t kSyncMaxRequests = 10000;

// How far ahead of HQ's clock a pushed version may be stamped. Laptop clocks drift by seconds
// to minutes; past this, HQ answers "clock_ahead" and the replica re-stamps its unsent writes
// with HQ's time, so a laptop whose clock runs days ahead cannot win every conflict.
inline constexpr std::int64_t kMaxClockAheadMillis = 5 * 60 * 1000;

// The oldest time a version may carry: 2015-01-01T00:00:00Z. FieldSync's field data cannot
// predate it (the system and the records it holds are younger), so a version before it is a
// broken clock or a forged change, refused like one stamped ahead; it also keeps small numbers
// (1, 2, …, which a hostile or buggy peer might send) out of the version order.
inline constexpr std::int64_t kOldestVersionMillis = 1'420'070'400'000;

// Timeouts of the sync client: connecting, and one whole request (a page each way).
inline constexpr int kSyncConnectTimeoutSeconds = 20;
inline constexpr int kSyncRequestTimeoutSeconds = 120;

// Largest answer the sync client accepts (after decompression).
inline constexpr std::size_t kSyncMaxResponseBytes = 64 * 1024 * 1024;

// --- the sync client's HTTPS transport (sync/transport/https_client) ---

// Seconds the client keeps an idle connection to HQ for the next page. Below HQ's
// kHttpReadTimeoutSeconds (30), so the client never sends a page on a connection HQ is just
// closing (a race that fails the request); a new TLS handshake costs one or two round trips.
inline constexpr long kHttpsMaxIdleConnectionSeconds = 20;

// --- watch (sync/watch: `fieldsync watch`) ---

// Seconds between health probes while the link holds. Below the client's idle limit
// (kHttpsMaxIdleConnectionSeconds, 20) and HQ's (kHttpReadTimeoutSeconds, 30), so each probe
// keeps the TLS connection open and the next sync needs no new handshake (two round trips saved,
// 1.4 s on a satellite link); one tiny request per 15 s is nothing to HQ or to a metered link.
inline constexpr int kWatchProbeIntervalSeconds = 15;

// Seconds between syncs that only pull, when nothing is written here: what other laptops of the
// office sent reaches this one within a minute.
inline constexpr int kWatchPullIntervalSeconds = 60;

// How often watch looks for a write by another process (`fieldsync add`, `import`): a stat() of
// the store's files, no SQLite, so twice a second costs nothing.
inline constexpr int kWatchWriteCheckMillis = 500;

// Quiet time after the last local write before watch syncs: a person adding several records, or
// an import committing batch after batch, gives one sync rather than one per write, and still
// reaches HQ within a couple of seconds of the last one.
inline constexpr int kWatchDebounceMillis = 1500;

// Longest a sync waits behind writes that keep coming (an import of 100,000 records): past this
// it syncs anyway, so a long import reaches HQ as it goes, not only at its end.
inline constexpr int kWatchWriteMaxDelaySeconds = 10;

// Backoff while HQ cannot be reached: probes after a delay drawn uniformly from
// [0, min(max, first * 2^failures)] ("full jitter"), so the laptops of an office whose link came
// back do not all knock at the same second. The first delay is about a second, so a link that
// blinked is used again at once; the cap keeps a laptop whose link is down for hours to a probe
// every few minutes (and at most one more wait than that once it returns).
inline constexpr int kWatchFirstBackoffMillis = 1000;
inline constexpr int kWatchMaxBackoffSeconds = 180;
// A floor under the jittered delay: a draw near 0 must not make a busy loop of probes.
inline constexpr int kWatchMinBackoffMillis = 100;

// Backoff after HQ refused a sync (a revoked token, a change HQ forbids) or the store failed:
// trying again soon would fail the same way, so watch waits long — and doubles up to the cap —
// while it keeps probing, and tries again at once when the enrollment changes (`fieldsync enroll`).
inline constexpr int kWatchRefusalFirstBackoffSeconds = 300;
inline constexpr int kWatchRefusalMaxBackoffSeconds = 3600;

// The longest Retry-After watch honours: a broken or hostile answer asking for days must not
// silence a laptop; HQ's own rate limits ask for seconds.
inline constexpr int kWatchMaxRetryAfterSeconds = 3600;

// On SIGTERM/SIGINT while a probe is in flight: how long watch waits for its answer before it
// exits anyway (a probe changes nothing; a sync in flight is always let finish).
inline constexpr int kWatchStopProbeWaitMillis = 2000;

static_assert(kWatchProbeIntervalSeconds < kHttpsMaxIdleConnectionSeconds,
              "a probe must come before the client drops the idle connection");

}  // namespace fieldsync::tuning

namespace fieldsync::tuning {

// How long a plugin catalogue HQ signs is good for. A laptop refuses an expired one (an attacker
// replaying an old catalogue to hide a withdrawal can do so for at most this long); HQ issues a
// fresh one whenever the served one is past half its life, so a laptop that syncs within two
// weeks never sees one expire.
inline constexpr std::int64_t kCatalogueLifetimeSeconds = 30 * 24 * 3600;

// The largest plugin library HQ publishes and a laptop downloads (a Release plugin is a few MB;
// one with debug info tens).
inline constexpr std::size_t kPluginMaxLibraryBytes = 48 * 1024 * 1024;

}  // namespace fieldsync::tuning
