// HqService's plugin routes and the types it loads: what it publishes is what it knows.
#include <cctype>
#include <string_view>

#include "core/error.hpp"
#include "sync/hq_service.hpp"
#include "sync/plugin_update.hpp"

namespace fieldsync {
namespace {

// "7" -> 7; 0 for anything that is not 1 to 6 digits.
int version_number(std::string_view text) {
  if (text.empty() || text.size() > 6) return 0;
  int version = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
    version = version * 10 + (c - '0');
  }
  return version;
}

}  // namespace

std::uint64_t HqService::refresh_types() {
  std::lock_guard lock(types_mutex_);
  std::error_code ec;
  auto stamp = std::filesystem::last_write_time(publisher_.catalogue_file(), ec);
  if (ec) stamp = {};  // nothing published: the types of HQ's own folders
  if (types_loaded_ && stamp == catalogue_loaded_) return catalogue_version_;
  // Loaded aside, then swapped in whole: a sync in flight sees the old set or the new one.
  PluginHost loaded;
  load_replica_plugins(loaded, home_);  // HQ's folders and the bundles it publishes
  types_->replace(std::move(loaded));
  types_loaded_ = true;
  catalogue_loaded_ = stamp;
  catalogue_version_ = publisher_.catalogue_version();
  return catalogue_version_;
}

HttpResponse HqService::plugins(const HttpRequest& request, const std::string& path) {
  if (request.method != "GET") return json_error(405, "method_not_allowed", "use GET " + path);
  // The token was checked with the head (authorize()); checked again as sync() does.
  if (!offices_.office_for_token(bearer_token_of(request.headers))) {
    return unauthorized();
  }
  refresh_types();
  HttpResponse response{200, "application/json", {}, {}};
  response.compress = true;  // public bytes (signed code and its list), no secret of the request
  try {
    if (path == "/v1/plugins") {
      if (!std::filesystem::exists(publisher_.catalogue_file())) return json_error(404, "not_found", "HQ publishes no plugin");
      response.body = publisher_.served_catalogue();
      return response;
    }
    // /v1/plugins/NAME/VERSION
    const std::string_view rest = std::string_view(path).substr(std::string_view("/v1/plugins/").size());
    const auto slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    const int version = slash == std::string_view::npos ? 0 : version_number(rest.substr(slash + 1));
    auto bundle = version == 0 ? std::nullopt : publisher_.served_bundle(name, version);
    if (!bundle) return json_error(404, "not_found", "no published plugin at " + path + " (GET /v1/plugins lists them)");
    response.body = std::move(*bundle);
    return response;
  } catch (const Error& e) {
    return error_response(e);
  }
}

}  // namespace fieldsync
