// Fuzz target: HQ's answer to POST /v1/sync — the request decoder (sync/protocol) with every check
// HQ makes (token scope, shape, versions against its clock, the type's schema and checks) and the
// store behind it — for a body from an office holding a valid token.
//
// LLVMFuzzerInitialize builds a throwaway HQ home in-process, as `fieldsync-hq init` and
// `fieldsync-hq office add NER` do (a replica for office "HQ" and an office list), and opens an
// HqService on it. Each input is the body of one request. When it starts like a zstd frame or a
// gzip member it is also sent as the server sends such a body on: decoded first, with the
// server's bound (a body it cannot decode is the server's 400/413, before HQ sees it).
//
// Asserts: the answer is 200, or a 4xx with a JSON error body ({"error": {"code", "message"}});
// never a 5xx, an exception out of handle() other than fieldsync::Error of a 4xx, or a crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/replica.hpp"
#include "core/tuning.hpp"
#include "sync/transport/compression.hpp"
#include "sync/hq_service.hpp"
#include "sync/office_registry.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

struct Hq {
  std::unique_ptr<fieldsync::HqService> service;
  std::string token;
};
Hq* hq = nullptr;

void check_answer(const fieldsync::HttpRequest& request) {
  fieldsync::HttpResponse response;
  try {
    response = hq->service->handle(request);
  } catch (const fieldsync::Error& e) {
    // The server turns an Error out of a handler into its status (error_response()).
    response = fieldsync::error_response(e);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("handle() threw a non-fieldsync exception (the server answers 500): ") + e.what());
  }
  FUZZ_CHECK(response.status == 200 || (response.status >= 400 && response.status < 500),
             "status " + std::to_string(response.status) + ": " + response.body);
  if (response.status != 200) {
    FUZZ_CHECK(fieldsync::fuzz::is_json_error(response.body),
               "status " + std::to_string(response.status) + " without a JSON error: " + response.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto home = fieldsync::fuzz::scratch_dir("hq") / "hq";
  fieldsync::Replica::create(home, "HQ");
  hq = new Hq;
  hq->token = fieldsync::OfficeRegistry(fieldsync::HqService::offices_file(home)).add("NER");
  hq->service = std::make_unique<fieldsync::HqService>(home);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(bytes), size);
  fieldsync::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/sync";
  request.headers["authorization"] = "Bearer " + hq->token;
  request.headers["content-type"] = "application/json";
  request.peer = "127.0.0.1:40000";
  request.headers["content-length"] = std::to_string(body.size());
  request.body = std::string(body);
  check_answer(request);

  std::optional<fieldsync::ContentCoding> coding;
  if (body.starts_with("\x28\xb5\x2f\xfd")) coding = fieldsync::ContentCoding::zstd;
  if (body.starts_with("\x1f\x8b")) coding = fieldsync::ContentCoding::gzip;
  if (coding) {
    try {
      request.body = fieldsync::decode_body(*coding, body, fieldsync::tuning::kHttpMaxBodyBytes);
    } catch (const fieldsync::Error&) {
      return 0;  // the server's 400 or 413; HQ's handler never sees it
    }
    // As the server passes a decoded body on: no Content-Encoding, the decoded length.
    request.headers["content-length"] = std::to_string(request.body.size());
    check_answer(request);
  }
  return 0;
}
