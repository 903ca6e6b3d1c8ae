// HQ publishing plugins: the signed bundle and catalogue (sync/rollout), `fieldsync-hq plugin
// publish|list|withdraw` run for real on real plugin libraries, and the running `fieldsync-hq
// serve` handing them out over TLS — and knowing a type the moment it is published.
#include <gtest/gtest.h>

#include <ctime>

#include "core/data_type.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "hq_fixture.hpp"
#include "https_test_client.hpp"
#include "sync/protocol.hpp"
#include "sync/rollout/plugin_catalogue.hpp"
#include "sync/rollout/plugin_manifest.hpp"
#include "sync/rollout/signature.hpp"

namespace fieldsync {
namespace {

using namespace fieldsync::rollout;
using test::CurlReply;
using test::CurlRequest;
using test::curl_request;

const std::filesystem::path kDistribution = std::filesystem::path(FIELDSYNC_TEST_PUBLISH_DIR) / "libfieldsync_distribution.so";
const std::filesystem::path kNote = std::filesystem::path(FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR) / "note" / "libfixture_note.so";

// The message of the Error `f()` throws; a test failure when it throws none.
template <class F>
std::string refusal_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

class Signatures : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_hq(dir_.path() / "hq", {"init"}).exit_code, 0);
    ASSERT_EQ(run_hq(dir_.path() / "other", {"init"}).exit_code, 0);
  }
  std::filesystem::path key(const char* hq) const { return dir_.path() / hq / "signing.key"; }
  PublicKey pub(const char* hq) const { return read_public_key(dir_.path() / hq / "signing.pub"); }
  TempDir dir_;
};

TEST_F(Signatures, ADocumentVerifiesOnlyAsSignedByThePinnedKeyForItsPurpose) {
  const std::string text = R"({"name":"distribution","version":1})";
  const std::string signature = sign_document(key("hq"), kManifestPurpose, text);
  EXPECT_NO_THROW(verify_document(pub("hq"), kManifestPurpose, text, signature, "bundle"));
  EXPECT_EQ(read_public_key(key("hq")).bytes, pub("hq").bytes) << "the secret key file holds the public key";

  std::string altered = text;
  altered[10] = 'x';
  EXPECT_NE(refusal_of([&] { verify_document(pub("hq"), kManifestPurpose, altered, signature, "bundle"); }).find("bad signature"),
            std::string::npos);
  const std::string other = refusal_of([&] { verify_document(pub("other"), kManifestPurpose, text, signature, "bundle"); });
  EXPECT_NE(other.find("another key"), std::string::npos) << other;
  EXPECT_NE(other.find(pub("other").id()), std::string::npos) << other;
  // A manifest's signature is no catalogue's.
  EXPECT_THROW(verify_document(pub("hq"), kCataloguePurpose, text, signature, "catalogue"), Error);
  EXPECT_NE(refusal_of([&] { verify_document(pub("hq"), kManifestPurpose, text, "not base64!", "bundle"); }).find("not base64"),
            std::string::npos);
  EXPECT_NE(refusal_of([&] { verify_document(pub("hq"), kManifestPurpose, text, to_base64("short"), "bundle"); })
                .find("not an Ed25519 signature"),
            std::string::npos);
  EXPECT_NE(refusal_of([&] { verify_document(PublicKey{}, kManifestPurpose, text, signature, "bundle"); }).find("no signing key"),
            std::string::npos);
}

PluginManifest manifest_of(const std::string& library) {
  PluginManifest m;
  m.name = "distribution";
  m.version = 2;
  m.api_version = kPluginApiVersion;
  m.platform = plugin_platform();
  m.sha256 = sha256_hex(library);
  m.size = library.size();
  m.description = "Aid handed out — distributions d’aide — توزيع المساعدات";
  m.published = 1733300000;
  return m;
}

TEST(PluginManifest, RoundTripsAndRefusesWhatCannotBeTrusted) {
  const std::string library = "\x7f" "ELF pretend library";
  const PluginManifest m = manifest_of(library);
  const PluginManifest back = parse_manifest(manifest_text(m), "bundle");
  EXPECT_EQ(manifest_text(back), manifest_text(m));
  EXPECT_EQ(back.file_name(), "distribution-2.so");
  EXPECT_NO_THROW(check_loadable_here(back, "bundle"));
  EXPECT_NO_THROW(check_library_matches(back, library, "bundle"));

  std::string altered = library;
  altered.back() = '!';
  EXPECT_NE(refusal_of([&] { check_library_matches(m, altered, "bundle"); }).find("hash mismatch"), std::string::npos);
  EXPECT_NE(refusal_of([&] { check_library_matches(m, library.substr(1), "bundle"); }).find("cut short"), std::string::npos);

  PluginManifest wrong = m;
  wrong.platform = "windows-arm64-msvc";
  EXPECT_NE(refusal_of([&] { check_loadable_here(wrong, "bundle"); }).find("platform windows-arm64-msvc"), std::string::npos);
  wrong = m;
  wrong.api_version = kPluginApiVersion + 1;
  EXPECT_NE(refusal_of([&] { check_loadable_here(wrong, "bundle"); }).find("plugin API version"), std::string::npos);

  for (const std::string name : {"../../bin/evil", "distribution/../x", "Distribution", "", "a.so"}) {
    nlohmann::json json = nlohmann::json::parse(manifest_text(m));
    json["name"] = name;
    EXPECT_NE(refusal_of([&] { parse_manifest(json.dump(), "bundle"); }).find("names no data type"), std::string::npos) << name;
  }
  nlohmann::json json = nlohmann::json::parse(manifest_text(m));
  json["sha256"] = "abc";
  EXPECT_THROW(parse_manifest(json.dump(), "bundle"), Error);
  EXPECT_THROW(parse_manifest("{not json", "bundle"), Error);
}

TEST(PluginCatalogue, RefusesRollbackFreezeAndTwoCataloguesOfOneVersion) {
  const std::int64_t now = std::time(nullptr);
  Catalogue seen{7, now - 60, now + 3600, {{"distribution", 1, std::string(64, 'a'), false}}};
  const std::string seen_text = catalogue_text(seen);
  EXPECT_EQ(catalogue_text(parse_catalogue(seen_text, "catalogue")), seen_text);

  Catalogue newer = seen;
  newer.version = 8;
  newer.plugins.push_back({"distribution", 2, std::string(64, 'b'), false});
  EXPECT_NO_THROW(check_fresh(newer, catalogue_text(newer), seen, seen_text, now, "HQ's catalogue"));
  EXPECT_NO_THROW(check_fresh(seen, seen_text, std::nullopt, "", now, "HQ's catalogue"));
  EXPECT_NO_THROW(check_fresh(seen, seen_text, seen, seen_text, now, "HQ's catalogue")) << "the same one again is fine";

  Catalogue older = seen;
  older.version = 6;
  EXPECT_NE(refusal_of([&] { check_fresh(older, catalogue_text(older), seen, seen_text, now, "HQ's catalogue"); })
                .find("older than version 7"),
            std::string::npos);
  Catalogue twin = newer;
  twin.version = 7;
  EXPECT_NE(refusal_of([&] { check_fresh(twin, catalogue_text(twin), seen, seen_text, now, "HQ's catalogue"); }).find("differs"),
            std::string::npos);
  Catalogue stale = newer;
  stale.expires = now - 1;
  EXPECT_NE(refusal_of([&] { check_fresh(stale, catalogue_text(stale), seen, seen_text, now, "HQ's catalogue"); }).find("expired"),
            std::string::npos);

  newer.plugins.push_back({"displacement", 1, std::string(64, 'c'), true});
  const auto current = newer.current();
  ASSERT_EQ(current.size(), 1u) << "a withdrawn type is not current";
  EXPECT_EQ(current[0].version, 2);
  newer.plugins[1].withdrawn = true;
  EXPECT_EQ(newer.current().at(0).version, 1) << "withdrawing version 2 makes version 1 current again";
}

class Publishing : public HqWithOffices {
 protected:
  RunResult hq(std::vector<std::string> args) { return run_hq(hq_->home(), std::move(args)); }

  CurlReply get(const std::string& path, const std::string& token) {
    CurlRequest request;
    request.url = hq_->url() + path;
    request.ca_file = hq_->ca_file();
    if (!token.empty()) request.headers.push_back("Authorization: Bearer " + token);
    request.timeout_ms = 20000;
    return curl_request(request);
  }

  // A sync body pushing one new `note` record of NER, made on a real replica that has the type.
  std::string note_push() {
    PluginHost host;
    EXPECT_TRUE(host.load_file(kNote));
    const auto home = dir_.path() / ("note-laptop-" + std::to_string(++laptops_));
    Replica::create(home, "NER");
    Replica replica(home, host);
    replica.add("note", {{"title", "Réunion avec le Croissant-Rouge — اجتماع مع الهلال الأحمر"}});
    protocol::SyncRequest request;
    request.replica = replica.replica_id();
    request.changes = replica.outbox_page(10).changes;
    return protocol::encode(request);
  }

  int laptops_ = 0;

  CurlReply post_sync(const std::string& body) {
    CurlRequest request;
    request.url = hq_->url() + "/v1/sync";
    request.method = "POST";
    request.body = body;
    request.ca_file = hq_->ca_file();
    request.headers = {"Content-Type: application/json", "Authorization: Bearer " + ner_token_};
    request.timeout_ms = 20000;
    return curl_request(request);
  }
};

TEST_F(Publishing, PublishListWithdrawThroughTheCommand) {
  RunResult r = hq({"plugin", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("No plugin published"), std::string::npos) << r.out;

  r = hq({"plugin", "publish", kDistribution.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto published = nlohmann::json::parse(r.out);
  EXPECT_EQ(published["name"], "distribution");
  EXPECT_EQ(published["version"], 1);
  EXPECT_EQ(published["sha256"], sha256_hex(read_file(kDistribution)));
  EXPECT_EQ(published["platform"], plugin_platform());

  r = hq({"plugin", "publish", kDistribution.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("published already"), std::string::npos) << r.err;
  r = hq({"plugin", "publish", (dir_.path() / "hq" / "offices.json").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a plugin"), std::string::npos) << r.err;

  r = hq({"plugin", "withdraw", "distribution", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = hq({"plugin", "withdraw", "distribution", "9"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("never published"), std::string::npos) << r.err;
  const auto list = nlohmann::json::parse(hq({"plugin", "list", "--json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["withdrawn"], true);
  r = hq({"plugin", "list"});
  EXPECT_NE(r.out.find("distribution 1  WITHDRAWN"), std::string::npos) << r.out;
}

// A new version may add fields, never leave out one of an older version's: offices still on the
// older one write it during the rollout, and HQ checks what they push with the newest.
TEST_F(Publishing, ANewVersionThatLeavesOutAnOlderVersionsFieldIsRefused) {
  const std::filesystem::path fixtures = FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR;
  ASSERT_EQ(hq({"plugin", "publish", kNote.string()}).exit_code, 0);
  const std::string before = read_file(dir_.path() / "hq" / "published" / "catalogue.json");
  const RunResult renamed = hq({"plugin", "publish", (fixtures / "note_v3" / "libfixture_note_v3.so").string()});
  EXPECT_NE(renamed.exit_code, 0);
  EXPECT_NE(renamed.err.find("leaves out the field 'title' of version 1"), std::string::npos) << renamed.err;
  EXPECT_EQ(read_file(dir_.path() / "hq" / "published" / "catalogue.json"), before) << "nothing published";
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "hq" / "published" / "note" / "3"));
  // One that keeps them is published.
  EXPECT_EQ(hq({"plugin", "publish", (fixtures / "note_v2" / "libfixture_note_v2.so").string()}).exit_code, 0);
  ASSERT_EQ(hq({"plugin", "publish", kDistribution.string()}).exit_code, 0);
  const RunResult added = hq({"plugin", "publish", (fixtures / "distribution_v2" / "libfieldsync_distribution_v2.so").string()});
  EXPECT_EQ(added.exit_code, 0) << added.err;
}

TEST_F(Publishing, ServeHandsOutTheSignedCatalogueAndBundles) {
  EXPECT_EQ(get("/v1/plugins", ner_token_).status, 404) << "nothing published yet";
  ASSERT_EQ(hq({"plugin", "publish", kDistribution.string()}).exit_code, 0);

  EXPECT_EQ(get("/v1/plugins", "").status, 401);
  EXPECT_EQ(get("/v1/plugins", "wrong-token").status, 401);
  const CurlReply catalogue_reply = get("/v1/plugins", ner_token_);
  ASSERT_EQ(catalogue_reply.status, 200) << catalogue_reply.body;
  const auto served = nlohmann::json::parse(catalogue_reply.body);
  const PublicKey key = read_public_key(hq_->home() / "signing.pub");
  const std::string text = served["catalogue"];
  ASSERT_NO_THROW(verify_document(key, kCataloguePurpose, text, served["signature"].get<std::string>(), "catalogue"));
  const Catalogue catalogue = parse_catalogue(text, "catalogue");
  EXPECT_GT(catalogue.expires, std::time(nullptr) + 7 * 24 * 3600);
  ASSERT_EQ(catalogue.current().size(), 1u);
  EXPECT_EQ(catalogue.current()[0].name, "distribution");

  const CurlReply bundle_reply = get("/v1/plugins/distribution/1", afg_token_);
  ASSERT_EQ(bundle_reply.status, 200);
  const auto bundle = nlohmann::json::parse(bundle_reply.body);
  const std::string manifest = bundle["manifest"];
  ASSERT_NO_THROW(verify_document(key, kManifestPurpose, manifest, bundle["signature"].get<std::string>(), "bundle"));
  const std::string library = from_base64(bundle["library"].get<std::string>(), "library");
  EXPECT_EQ(library, read_file(kDistribution)) << "the library byte for byte";
  EXPECT_NO_THROW(check_library_matches(parse_manifest(manifest, "bundle"), library, "bundle"));
  EXPECT_EQ(parse_manifest(manifest, "bundle").sha256, catalogue.current()[0].sha256);

  for (const char* path : {"/v1/plugins/distribution/2", "/v1/plugins/distribution", "/v1/plugins/../offices.json",
                           "/v1/plugins/distribution/1x", "/v1/plugins/%2e%2e/1"}) {
    EXPECT_EQ(get(path, ner_token_).status, 404) << path;
  }
}

TEST_F(Publishing, AServingHqKnowsATypeOnceItIsPublishedAndForgetsItWhenWithdrawn) {
  const std::string body = note_push();
  CurlReply reply = post_sync(body);
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("no data type named 'note'"), std::string::npos) << reply.body;

  ASSERT_EQ(hq({"plugin", "publish", kNote.string()}).exit_code, 0);
  reply = post_sync(body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto response = protocol::decode_sync_response(reply.body);
  EXPECT_EQ(response.stored, 1u);
  EXPECT_EQ(response.catalogue, 1u) << "every sync names the catalogue's version";
  EXPECT_EQ(query_count(hq_->store(), "SELECT count(*) FROM records WHERE type = 'note'"), 1);

  ASSERT_EQ(hq({"plugin", "withdraw", "note", "1"}).exit_code, 0);
  reply = post_sync(note_push());
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("no data type named 'note'"), std::string::npos) << reply.body;
}

}  // namespace
}  // namespace fieldsync
