// HQ's TLS identity: what the certificates say, key permissions, refusing to overwrite, and that
// two identities are unrelated.
#include "sync/transport/tls_identity.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/error.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr load(const std::filesystem::path& pem) {
  FILE* f = std::fopen(pem.c_str(), "r");
  if (!f) return nullptr;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

// X509_verify_cert of `leaf` against `ca` as the only trust anchor; 0 on success, else the error.
int verify(X509* leaf, X509* ca, const char* ip) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx), ip);
  const int ok = X509_verify_cert(ctx);
  const int err = ok == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err == 0 && ok != 1 ? -1 : err;
}

long days_valid(X509* cert) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  return days;
}

TEST(TlsIdentity, CaAndServerCertificatesAsPromised) {
  TempDir dir;
  const TlsIdentityPaths p = create_tls_identity(dir.path() / "tls", {"hq.example.org"}, {"10.0.0.5"});
  const X509Ptr ca = load(p.ca_cert);
  const X509Ptr server = load(p.server_cert);
  ASSERT_TRUE(ca && server);

  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(X509_get_extension_flags(ca.get()) & EXFLAG_CA);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  EXPECT_NEAR(days_valid(ca.get()), 3650, 1);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(server.get()) & XKU_SSL_SERVER);
  EXPECT_NEAR(days_valid(server.get()), 730, 1);

  EVP_PKEY* key = X509_get0_pubkey(server.get());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char curve[64] = {};
  size_t len = 0;
  EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &len);
  EXPECT_STREQ(curve, "prime256v1");

  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.0.0.5", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server.get(), "hq.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.2", 0), 0);

  EXPECT_EQ(verify(server.get(), ca.get(), "127.0.0.1"), 0);
}

TEST(TlsIdentity, KeysAreOwnerOnly) {
  TempDir dir;
  const TlsIdentityPaths p = create_tls_identity(dir.path());
  for (const auto& key : {p.ca_key, p.server_key}) {
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  EXPECT_NE(read_file(p.server_key).find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(TlsIdentity, TwoIdentitiesAreUnrelated) {
  TempDir dir;
  const TlsIdentityPaths a = create_tls_identity(dir.path() / "a");
  const TlsIdentityPaths b = create_tls_identity(dir.path() / "b");
  EXPECT_NE(certificate_fingerprint_sha256(a.ca_cert), certificate_fingerprint_sha256(b.ca_cert));
  EXPECT_NE(verify(load(b.server_cert).get(), load(a.ca_cert).get(), "127.0.0.1"), 0);
}

TEST(TlsIdentity, RefusesToOverwrite) {
  TempDir dir;
  const TlsIdentityPaths p = create_tls_identity(dir.path());
  const std::string before = read_file(p.ca_cert);
  try {
    create_tls_identity(dir.path());
    FAIL() << "overwrote an identity";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::already_exists);
  }
  EXPECT_EQ(read_file(p.ca_cert), before);
}

TEST(TlsIdentity, FingerprintLooksLikeOpenssls) {
  TempDir dir;
  const TlsIdentityPaths p = create_tls_identity(dir.path());
  const std::string fp = certificate_fingerprint_sha256(p.ca_cert);
  EXPECT_EQ(fp.size(), 32u * 3 - 1);
  EXPECT_EQ(fp[2], ':');
  EXPECT_THROW(certificate_fingerprint_sha256(dir.path() / "nope.pem"), Error);
}

TEST(TlsIdentity, RefusesBadNames) {
  TempDir dir;
  EXPECT_THROW(create_tls_identity(dir.path(), {"a,b"}), Error);
  EXPECT_THROW(create_tls_identity(dir.path(), {}, {"not-an-ip"}), Error);
}

}  // namespace
}  // namespace fieldsync
