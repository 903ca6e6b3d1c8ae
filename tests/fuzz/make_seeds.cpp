// fuzz_make_seeds OUTPUT_DIR ACTIVITIES_JSONL: writes a seed corpus for every fuzz target into
// OUTPUT_DIR/<target>/, made from the real activity records (shared/data/activities.jsonl) with
// the project's own encoders, so the fuzzer starts from inputs that reach deep into each path:
//   fuzz_activity_validation  each record's fields object
//   fuzz_import_line          each input line as it is, and one chunk of many lines
//   fuzz_sync_request         sync requests a real NER replica would send (new, edited and
//                             deleted records, pages of 1 to 8), plain and zstd/gzip-compressed
//   fuzz_decompress           zstd and gzip bodies of records, after the two bound bytes
//   fuzz_http_request         whole HTTP requests carrying those bodies (Content-Length, chunked)
// Generated at the start of every scripts/fuzz.sh run; never committed.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/transport/compression.hpp"
#include "sync/protocol.hpp"

namespace fs = std::filesystem;
using fieldsync::ContentCoding;

namespace {

void write_seed(const fs::path& dir, const std::string& name, const std::string& content) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << content;
}

std::string http_request(const std::string& body, bool chunked, const char* coding) {
  std::string head = "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nAuthorization: Bearer fuzz\r\n"
                     "Content-Type: application/json\r\nAccept-Encoding: zstd, gzip\r\n";
  if (coding != nullptr) head += std::string("Content-Encoding: ") + coding + "\r\n";
  if (!chunked) return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::ostringstream chunk_size;
  chunk_size << std::hex << body.size();
  return head + "Transfer-Encoding: chunked\r\n\r\n" + chunk_size.str() + "\r\n" + body + "\r\n0\r\n\r\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds OUTPUT_DIR ACTIVITIES_JSONL\n";
    return 2;
  }
  const fs::path out = argv[1];
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::cerr << "fuzz_make_seeds: cannot read " << argv[2] << "\n";
    return 1;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }

  fieldsync::PluginHost types;
  types.load_file(fs::path(FIELDSYNC_FUZZ_PLUGIN_DIR) / "libfieldsync_activity.so");
  const fs::path home = out / "seed-replica";
  fs::remove_all(home);
  fieldsync::Replica::create(home, "NER");
  fieldsync::Replica replica(home, types);

  std::string chunk;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string n = std::to_string(i);
    write_seed(out / "fuzz_import_line", "line-" + n, lines[i]);
    if (i < 40) chunk += lines[i] + (i % 2 ? "\r\n" : "\n\n");
    const nlohmann::json record = nlohmann::json::parse(lines[i], nullptr, false);
    if (!record.is_object() || !record.contains("fields")) continue;
    write_seed(out / "fuzz_activity_validation", "fields-" + n, record["fields"].dump());
    if (ids.size() < 120) {
      try {
        ids.push_back(replica.add("activity", record["fields"], record.value("id", std::string())).id);
      } catch (const fieldsync::Error&) {
        // A record the plugin refuses: still a seed above, just not in a sync request.
      }
    }
    if (i < 60) {
      const std::string bound = std::string("\xff\xff", 2);
      write_seed(out / "fuzz_decompress", "zstd-" + n, bound + fieldsync::zstd_compress(lines[i]));
      write_seed(out / "fuzz_decompress", "gzip-" + n, bound + fieldsync::gzip_compress(lines[i]));
    }
  }
  write_seed(out / "fuzz_import_line", "chunk", chunk);

  // Later versions on some records, so requests carry replaced versions ("r") and tombstones.
  for (std::size_t i = 0; i < ids.size(); i += 7) {
    try {
      replica.edit(ids[i], {{"title", "Edited for the fuzz seeds " + std::to_string(i)}});
      if (i % 3 == 0) replica.remove(ids[i]);
    } catch (const fieldsync::Error&) {
    }
  }
  const auto page = replica.outbox_page(ids.size());
  std::size_t seed = 0;
  for (std::size_t at = 0, size = 1; at < page.changes.size(); at += size, size = size % 8 + 1, ++seed) {
    fieldsync::protocol::SyncRequest request;
    request.replica = replica.replica_id();
    request.cursor = static_cast<std::int64_t>(seed % 3);
    request.max_pull = seed % 2 ? 50 : 0;
    for (std::size_t j = at; j < std::min(at + size, page.changes.size()); ++j) request.changes.push_back(page.changes[j]);
    const std::string body = fieldsync::protocol::encode(request);
    const std::string n = std::to_string(seed);
    write_seed(out / "fuzz_sync_request", "request-" + n, body);
    if (seed < 12) {
      write_seed(out / "fuzz_sync_request", "request-zstd-" + n, fieldsync::zstd_compress(body));
      write_seed(out / "fuzz_sync_request", "request-gzip-" + n, fieldsync::gzip_compress(body));
      write_seed(out / "fuzz_http_request", "post-" + n, http_request(body, false, nullptr));
      write_seed(out / "fuzz_http_request", "chunked-" + n, http_request(body, true, nullptr));
      write_seed(out / "fuzz_http_request", "zstd-" + n, http_request(fieldsync::zstd_compress(body), false, "zstd"));
    }
  }
  fieldsync::protocol::SyncRequest empty;
  empty.replica = replica.replica_id();
  write_seed(out / "fuzz_sync_request", "request-empty", fieldsync::protocol::encode(empty));
  write_seed(out / "fuzz_http_request", "health", "GET /v1/health HTTP/1.1\r\nHost: hq\r\n\r\n");
  write_seed(out / "fuzz_http_request", "pipelined",
             "GET /v1/health HTTP/1.1\r\nHost: hq\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: hq\r\nConnection: close\r\n\r\n");
  fs::remove_all(home);
  std::cout << "fuzz_make_seeds: " << lines.size() << " lines, " << ids.size() << " records, " << seed
            << " sync requests into " << out.string() << "\n";
  return 0;
}
