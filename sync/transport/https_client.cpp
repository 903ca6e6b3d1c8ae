#include "sync/transport/https_client.hpp"

#include <charconv>

#include <curl/curl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "core/error.hpp"
#include "core/tuning.hpp"
#include "sync/transport/compression.hpp"

namespace fieldsync {

// The easy handle and what its callbacks fill in during one request.
struct HttpsClient::Handle {
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  std::string received;       // the body as it came off the wire (still compressed)
  std::size_t max_bytes = 0;
  bool too_large = false;     // the write callback cut the transfer off
  bool request_sent = false;  // connected (TCP and TLS) and the request went out
  std::size_t bytes_out = 0, bytes_in = 0;  // HTTP headers and body, as on the wire

  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Handle*>(user);
    const std::size_t n = size * count;
    if (n > self->max_bytes - self->received.size()) {
      self->too_large = true;
      return 0;  // anything but n aborts the transfer: CURLE_WRITE_ERROR
    }
    self->received.append(data, n);
    return n;
  }

  // Called once the connection (a new one after its TLS handshake, or a reused one) is ready and
  // just before the request is sent: tells "HQ did not answer" from "could not connect".
  static int on_request(void* user, char*, char*, int, int) {
    static_cast<Handle*>(user)->request_sent = true;
    return CURL_PREREQFUNC_OK;
  }

  // libcurl's own byte counts cannot tell whether a POST body went out with the headers (it does
  // below 64 KiB), so we count what its debug hook shows: exactly the HTTP bytes each way.
  static int on_debug(CURL*, curl_infotype type, char*, std::size_t size, void* user) {
    auto* self = static_cast<Handle*>(user);
    if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT) self->bytes_out += size;
    if (type == CURLINFO_HEADER_IN || type == CURLINFO_DATA_IN) self->bytes_in += size;
    return 0;
  }

  // Every option matters for safety (CA, protocols, TLS version): one refused is a bug, not a
  // detail to skip.
  template <typename T>
  void set(CURLoption option, T value) {
    if (const CURLcode rc = curl_easy_setopt(curl, option, value); rc != CURLE_OK) {
      throw Error(Errc::internal, std::string("libcurl refused option ") + std::to_string(option) +
                                      ": " + curl_easy_strerror(rc));
    }
  }
};

namespace {

void init_curl_once() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    throw Error(Errc::internal, std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
  }
}

// "1 s", "0.5 s", "120 s".
std::string seconds_text(std::chrono::milliseconds ms) {
  const auto count = ms.count();
  if (count % 1000 == 0) return std::to_string(count / 1000) + " s";
  std::string text = std::to_string(count / 1000) + "." + std::to_string(count % 1000 + 1000).substr(1);
  while (text.back() == '0') text.pop_back();
  return text + " s";
}

// "64 MiB", "512 KiB", "1000 bytes".
std::string size_text(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Characters allowed in a request path or a token we put in a header: visible ASCII, so nothing
// can end a header line or smuggle a second one.
bool visible_ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Validates `url` with libcurl's own parser (the one the request will use) and returns it without
// a trailing '/', so base + "/v1/sync" has one slash.
std::string checked_base_url(const std::string& url) {
  CURLU* parsed = curl_url();
  if (parsed == nullptr) throw Error(Errc::internal, "libcurl: out of memory");
  const CURLUcode rc = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0);
  char* scheme = nullptr;
  if (rc == CURLUE_OK) curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0);
  const std::string scheme_text = scheme != nullptr ? scheme : "";
  curl_free(scheme);
  curl_url_cleanup(parsed);

  if (rc != CURLUE_OK || !visible_ascii(url)) {
    throw Error(Errc::invalid_input, "HQ's address '" + url + "' is not a valid URL (expected https://HOST:PORT)");
  }
  if (scheme_text != "https") {
    throw Error(Errc::invalid_input, "HQ's address '" + url +
                                         "' is not https: FieldSync sends its token and records to HQ only over "
                                         "TLS; nothing was sent");
  }
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

bool chain_not_signed_by_ca(long verify_result) {
  switch (verify_result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_INVALID_CA:
      return true;
    default:
      return false;
  }
}

}  // namespace

HttpsClient::HttpsClient(HttpsOptions options) : options_(std::move(options)) {
  options_.base_url = checked_base_url(options_.base_url);
  if (!options_.bearer_token.empty() && !visible_ascii(options_.bearer_token)) {
    throw Error(Errc::invalid_input, "the enrollment token holds spaces or control characters: it cannot be sent to HQ "
                                     "(enroll again with the token HQ gave)");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options_.ca_file, ec)) {
    throw Error(Errc::storage, "the CA certificate pinned at enrollment is missing: " + options_.ca_file.string() +
                                   " (enroll again: `fieldsync enroll --hq URL --ca FILE --token TOKEN`)");
  }
  if (options_.connect_timeout.count() <= 0 || options_.request_timeout.count() <= 0 ||
      options_.max_response_bytes == 0) {
    throw Error(Errc::internal, "HttpsClient needs timeouts and a response size bound above zero");
  }

  init_curl_once();
  handle_ = std::make_unique<Handle>();
  handle_->curl = curl_easy_init();
  if (handle_->curl == nullptr) throw Error(Errc::internal, "cannot create a libcurl handle");
  handle_->max_bytes = options_.max_response_bytes;

  Handle& h = *handle_;
  h.set(CURLOPT_ERRORBUFFER, h.error);
  h.set(CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: safe in a threaded program
  // https and nothing else, and no redirects: a Location header cannot send us elsewhere.
  h.set(CURLOPT_PROTOCOLS_STR, "https");
  h.set(CURLOPT_REDIR_PROTOCOLS_STR, "https");
  h.set(CURLOPT_FOLLOWLOCATION, 0L);
  // Trust the pinned CA only: CAINFO replaces the system bundle, and an empty CAPATH turns off
  // the system's certificate folder.
  h.set(CURLOPT_CAINFO, options_.ca_file.c_str());
  h.set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  h.set(CURLOPT_SSL_VERIFYPEER, 1L);
  h.set(CURLOPT_SSL_VERIFYHOST, 2L);
  h.set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));  // 1.2 or later
  h.set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));   // what HQ speaks
  h.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  h.set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  h.set(CURLOPT_MAXAGE_CONN, tuning::kHttpsMaxIdleConnectionSeconds);
  // A Content-Length over the bound is refused before the body is read; a chunked body is cut
  // off by on_body.
  h.set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_bytes));
  // We decompress ourselves (bounded, and zstd whether or not libcurl was built with it).
  h.set(CURLOPT_HTTP_CONTENT_DECODING, 0L);
  h.set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);  // a proxy's answer to CONNECT is not HQ's
  h.set(CURLOPT_USERAGENT, "fieldsync");
  h.set(CURLOPT_WRITEFUNCTION, &Handle::on_body);
  h.set(CURLOPT_WRITEDATA, static_cast<void*>(&h));
  h.set(CURLOPT_PREREQFUNCTION, &Handle::on_request);
  h.set(CURLOPT_PREREQDATA, static_cast<void*>(&h));
  h.set(CURLOPT_DEBUGFUNCTION, &Handle::on_debug);  // called only when verbose: nothing is printed
  h.set(CURLOPT_DEBUGDATA, static_cast<void*>(&h));
  h.set(CURLOPT_VERBOSE, 1L);
}

HttpsClient::~HttpsClient() = default;

HttpsResult HttpsClient::get(const std::string& path) { return perform("GET", path, nullptr, false); }

HttpsResult HttpsClient::post_json(const std::string& path, const std::string& json_body, bool compress) {
  if (!compress) return perform("POST", path, &json_body, false);
  const std::string compressed = zstd_compress(json_body);
  return perform("POST", path, &compressed, true);
}

HttpsResult HttpsClient::post_zstd_json(const std::string& path, const std::string& zstd_body) {
  return perform("POST", path, &zstd_body, true);
}

namespace {

// The Error for a request libcurl could not complete, in words a field officer can act on.
Error transfer_error(CURLcode rc, CURL* curl, const char* error_buffer, bool request_sent, bool too_large,
                     const HttpsOptions& options, const std::string& request) {
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  const std::string& hq = options.base_url;
  const std::string ca = options.ca_file.string();
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Error(Errc::network, "cannot reach HQ at " + hq + ": " + detail +
                                      " (is HQ running, and is this computer online?)");
    case CURLE_OPERATION_TIMEDOUT: {
      // libcurl records HQ's IP address once the TCP connection is up (not when only trying).
      const char* ip = nullptr;
      curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &ip);
      const bool tcp_connected = ip != nullptr && *ip != '\0';
      const auto connecting = std::min(options.connect_timeout, options.request_timeout);
      if (!request_sent && !tcp_connected) {
        return Error(Errc::network, "cannot reach HQ at " + hq + ": no connection within " +
                                        seconds_text(connecting) + " (" + detail + ")");
      }
      if (!request_sent) {
        return Error(Errc::network, "HQ did not answer within " + seconds_text(connecting) +
                                        " (TLS handshake with " + hq + "): " + detail + "; nothing was sent");
      }
      return Error(Errc::network, "HQ did not answer within " + seconds_text(options.request_timeout) + " (" +
                                      request + "): " + detail);
    }
    case CURLE_PEER_FAILED_VERIFICATION: {
      long verify_result = X509_V_OK;
      curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &verify_result);
      if (chain_not_signed_by_ca(verify_result)) {
        return Error(Errc::network, "HQ's certificate is not signed by the CA pinned at enrollment (" + ca +
                                        "): nothing was sent to " + hq + " (" + detail +
                                        "). Either this is not HQ, or HQ's CA was replaced and this "
                                        "replica must be enrolled again");
      }
      if (verify_result == X509_V_ERR_CERT_HAS_EXPIRED || verify_result == X509_V_ERR_CERT_NOT_YET_VALID) {
        return Error(Errc::network, "HQ's certificate is expired or not yet valid (check this computer's date): "
                                    "nothing was sent to " + hq + " (" + detail + ")");
      }
      if (verify_result == X509_V_OK) {  // the chain is fine: the name does not match
        return Error(Errc::network, "HQ's certificate is not made out for the address " + hq +
                                        ": nothing was sent (" + detail + ")");
      }
      return Error(Errc::network, "HQ's certificate could not be verified against the CA pinned at enrollment (" +
                                      ca + "): nothing was sent to " + hq + " (" + detail + ")");
    }
    case CURLE_SSL_CONNECT_ERROR:
      return Error(Errc::network, "the TLS handshake with HQ at " + hq + " failed: " + detail + "; nothing was sent");
    case CURLE_SSL_CACERT_BADFILE:
      return Error(Errc::storage, "cannot read the CA certificate pinned at enrollment (" + ca + "): " + detail);
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:
      if (rc == CURLE_FILESIZE_EXCEEDED || too_large) {
        return Error(Errc::invalid_input, "HQ's answer to " + request + " is larger than the " +
                                              size_text(options.max_response_bytes) +
                                              " this replica accepts: it was cut off and not used");
      }
      break;
    case CURLE_GOT_NOTHING:
      return Error(Errc::network, "HQ at " + hq + " closed the connection without answering " + request);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return Error(Errc::network, "the connection to HQ was cut during " + request + ": " + detail);
    case CURLE_URL_MALFORMAT:
      return Error(Errc::invalid_input, "not a valid URL: " + request + " (" + detail + ")");
    default:
      break;
  }
  return Error(Errc::network, "the request to HQ failed (" + request + "): " + detail);
}

}  // namespace

HttpsResult HttpsClient::perform(const char* method, const std::string& path, const std::string* body,
                                 bool compressed) {
  if (path.empty() || path.front() != '/' || !visible_ascii(path)) {
    throw Error(Errc::internal, "not a request path for HQ: '" + path + "'");
  }
  const std::string url = options_.base_url + path;
  const std::string request = std::string(method) + " " + url;  // for messages

  using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;
  HeaderList headers(nullptr, &curl_slist_free_all);
  auto add_header = [&headers](const std::string& line) {
    curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
    if (grown == nullptr) throw Error(Errc::internal, "libcurl: out of memory");
    static_cast<void>(headers.release());  // now owned by `grown`
    headers.reset(grown);
  };
  add_header("Accept: application/json");
  add_header("Accept-Encoding: zstd, gzip");
  if (!options_.bearer_token.empty()) add_header("Authorization: Bearer " + options_.bearer_token);
  if (body != nullptr) add_header("Content-Type: application/json");
  if (compressed) add_header("Content-Encoding: zstd");

  Handle& h = *handle_;
  h.error[0] = '\0';
  h.received.clear();
  h.too_large = false;
  h.request_sent = false;
  h.bytes_out = h.bytes_in = 0;
  h.set(CURLOPT_URL, url.c_str());
  if (body != nullptr) {
    h.set(CURLOPT_POST, 1L);
    h.set(CURLOPT_POSTFIELDS, body->data());
    h.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    h.set(CURLOPT_HTTPGET, 1L);
  }
  h.set(CURLOPT_HTTPHEADER, headers.get());
  const CURLcode rc = curl_easy_perform(h.curl);
  // The handle must not keep pointers to this call's header list and body.
  curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));
  if (rc != CURLE_OK) {
    throw transfer_error(rc, h.curl, h.error, h.request_sent, h.too_large, options_, request);
  }

  HttpsResult result;
  curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &result.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(h.curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
    result.content_type = content_type;
  }
  result.bytes_sent = h.bytes_out;
  result.bytes_received = h.bytes_in;
  long connects = 0;
  if (curl_easy_getinfo(h.curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) result.new_connection = connects > 0;
  // Retry-After as delta-seconds (what HQ sends); an HTTP date is not worth parsing here.
  curl_header* retry = nullptr;
  if (curl_easy_header(h.curl, "Retry-After", 0, CURLH_HEADER, -1, &retry) == CURLHE_OK) {
    const std::string_view value = retry->value;
    long seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0 && seconds <= 86'400) {
      result.retry_after = std::chrono::seconds(seconds);
    }
  }

  // The final response's Content-Encoding (-1: not that of a "100 Continue").
  std::string encoding_header;
  curl_header* encoding = nullptr;
  if (curl_easy_header(h.curl, "Content-Encoding", 0, CURLH_HEADER, -1, &encoding) == CURLHE_OK) {
    encoding_header = encoding->value;
    if (encoding->amount > 1) encoding_header += ", …";  // stacked codings: refused below
  }
  const std::optional<ContentCoding> coding = parse_content_encoding(encoding_header);
  if (!coding) {
    throw Error(Errc::invalid_input, "HQ answered " + request + " in an encoding this replica cannot read "
                                     "(Content-Encoding: " + encoding_header + ")");
  }
  try {
    result.body = decode_body(*coding, h.received, options_.max_response_bytes);
  } catch (const DecompressedTooLarge&) {
    throw Error(Errc::invalid_input, "HQ's answer to " + request + " is larger than the " +
                                         size_text(options_.max_response_bytes) +
                                         " this replica accepts once decompressed: it was not used");
  } catch (const Error& e) {
    throw Error(Errc::invalid_input, "HQ's answer to " + request + " could not be decompressed (Content-Encoding: " +
                                         to_string(*coding) + "): " + e.what());
  }
  return result;
}

}  // namespace fieldsync
