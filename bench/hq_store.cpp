// bench_hq_store: the CPU each side spends per record in a first push, in one process, without
// TLS or a second process on the other core: what bench_sync's push rate is made of, measured
// steadily enough to tell a 5% change from noise on a busy machine.
//
//   laptop — Replica::outbox_page of 5,000 records, each change encoded as the push sends it
//            (protocol::change_text) and the page compressed (zstd_compress), then
//            Replica::acknowledge of the page once HQ has answered.
//   hq     — HqService::handle of each page's body as the server hands it over (decompressed):
//            decode, the checks outside the lock, the lock, apply, the feed, the answer.
//
// CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID: every thread, HQ's check threads
// included). Records are `python3 SHARED_DATA/variants.py N`. Usage: bench_hq_store [--records N]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_temp_dir.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/hq_service.hpp"
#include "sync/office_registry.hpp"
#include "sync/protocol.hpp"
#include "sync/transport/compression.hpp"

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fieldsync;
  long records = 50'000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) {
      records = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::cerr << "usage: bench_hq_store [--records N]\n";
      return 2;
    }
  }
  if (records < 1 || records > 1'000'000) {
    std::cerr << "--records must be from 1 to 1,000,000\n";
    return 2;
  }
  bench::TempDir dir("bench_hq_store", false);
  const std::string jsonl = (dir.path() / "records.jsonl").string();
  const std::string generate = "python3 " + std::string(FIELDSYNC_SHARED_DATA_DIR) + "/variants.py " +
                               std::to_string(records) + " > " + jsonl;
  if (std::system(generate.c_str()) != 0) {
    std::cerr << "variants.py failed\n";
    return 1;
  }

  PluginHost host;
  for (const auto& plugins : PluginHost::default_directories(dir.path())) host.load_directory(plugins);
  const auto laptop_home = dir.path() / "laptop";
  const auto hq_home = dir.path() / "hq";
  Replica::create(laptop_home, "NER");
  Replica::create(hq_home, "HQ");
  const std::string token = OfficeRegistry(HqService::offices_file(hq_home)).add("NER");
  Replica laptop(laptop_home, host);
  HqService hq(hq_home);

  {
    std::ifstream in(jsonl);
    std::vector<NewRecord> batch;
    std::string line;
    auto flush = [&] {
      for (const auto& result : laptop.add_batch(std::move(batch))) {
        if (result.outcome != AddOutcome::added) {
          std::cerr << "import refused a record: " << (result.error ? result.error->what() : "") << "\n";
          std::exit(1);
        }
      }
      batch.clear();
    };
    while (std::getline(in, line)) {
      nlohmann::json json = nlohmann::json::parse(line);
      batch.push_back(NewRecord{json["id"].get<std::string>(), "activity", std::move(json["fields"]), "", true});
      if (batch.size() == 5000) flush();
    }
    flush();
  }

  double laptop_cpu = 0, hq_cpu = 0, hq_wall = 0;
  std::size_t pushed = 0, pages = 0;
  const OutboxMark* after = nullptr;
  OutboxPage page;
  std::vector<OutboxMark> last_marks;
  for (;;) {
    double started = cpu_seconds();
    std::string changes = "[";
    page = laptop.outbox_page(5000, 4 * 1024 * 1024, after, [&changes](OutgoingChange&& change) {
      if (changes.size() > 1) changes += ',';
      changes += protocol::change_text(change);
    });
    changes += ']';
    protocol::SyncRequest head;
    head.replica = laptop.replica_id();
    const std::string body = protocol::request_head(head) + protocol::changes_tail(changes);
    const std::string wire = zstd_compress(body);
    laptop_cpu += cpu_seconds() - started;

    HttpRequest request;
    request.method = "POST";
    request.target = "/v1/sync";
    request.headers["authorization"] = "Bearer " + token;
    request.headers["content-type"] = "application/json";
    request.body = zstd_decompress(wire, 64 * 1024 * 1024);
    started = cpu_seconds();
    const auto wall = std::chrono::steady_clock::now();
    const HttpResponse response = hq.handle(request);
    hq_wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    hq_cpu += cpu_seconds() - started;
    if (response.status != 200) {
      std::cerr << "HQ answered " << response.status << ": " << response.body.substr(0, 400) << "\n";
      return 1;
    }
    started = cpu_seconds();
    laptop.acknowledge(page.marks);
    laptop_cpu += cpu_seconds() - started;
    pushed += page.marks.size();
    ++pages;
    if (!page.more) break;
    last_marks = page.marks;
    after = &last_marks.back();
  }
  if (static_cast<long>(pushed) != records || laptop.status().pending_records != 0) {
    std::cerr << "pushed " << pushed << " of " << records << " records\n";
    return 1;
  }
  const double n = static_cast<double>(pushed);
  std::printf("{\"figure\":\"hq_store\",\"records\":%zu,\"pages\":%zu,\"laptop_cpu_us_per_record\":%.1f,"
              "\"hq_cpu_us_per_record\":%.1f,\"hq_wall_us_per_record\":%.1f}\n",
              pushed, pages, laptop_cpu / n * 1e6, hq_cpu / n * 1e6, hq_wall / n * 1e6);
  std::fprintf(stderr, "first push of %zu records in %zu pages: laptop %.1f µs CPU/record, HQ %.1f µs CPU/record (%.1f µs wall)\n",
               pushed, pages, laptop_cpu / n * 1e6, hq_cpu / n * 1e6, hq_wall / n * 1e6);
  return 0;
}
