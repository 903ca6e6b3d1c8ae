#include "sync/transport/tls_identity.hpp"

#include "sync/transport/internal/openssl_error.hpp"


#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/tuning.hpp"

namespace fieldsync {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

using internal::openssl_error;

void check(bool ok, const char* what, Errc code = Errc::internal) {
  if (!ok) throw Error(code, std::string(what) + ": " + openssl_error());
}

PkeyPtr new_p256_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "cannot generate an EC P-256 key");
  return key;
}

void add_name(X509_NAME* name, const char* field, const std::string& value) {
  check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) == 1,
        "cannot set a certificate name");
}

// Adds one v3 extension, written as in openssl.cnf ("critical,CA:TRUE").
void add_ext(X509* cert, X509* issuer, int nid, const std::string& value,
             Errc code = Errc::internal) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, ("cannot make the certificate extension " + value).c_str(), code);
  check(X509_add_ext(cert, ext.get(), -1) == 1, "cannot add a certificate extension");
}

// A certificate for `key` named `common_name`, valid from an hour ago (a field laptop's clock may
// lag HQ's) for `days`, with a random 127-bit serial; issuer and extensions are the caller's.
X509Ptr new_certificate(EVP_PKEY* key, const std::string& common_name, long days) {
  X509Ptr cert(X509_new());
  check(cert != nullptr, "out of memory");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "cannot set the certificate version");

  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial) == 1, "no random bytes for a serial number");
  serial[0] &= 0x7f;  // positive, as RFC 5280 requires
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  check(bn != nullptr && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr,
        "cannot set the serial number");

  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "cannot set notBefore");
  check(X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(days), 0, nullptr) !=
            nullptr,
        "cannot set notAfter");
  check(X509_set_pubkey(cert.get(), key) == 1, "cannot set the public key");

  X509_NAME* name = X509_get_subject_name(cert.get());
  add_name(name, "O", "FieldSync");
  add_name(name, "CN", common_name);
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuer_key) {
  check(X509_sign(cert, issuer_key, EVP_sha256()) > 0, "cannot sign the certificate");
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "cannot encode a certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "cannot encode a private key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string subject_alt_names(const std::vector<std::string>& dns_names,
                              const std::vector<std::string>& ips) {
  std::string san = "IP:127.0.0.1,IP:::1,DNS:localhost";
  auto add = [&](const char* kind, const std::string& value) {
    if (value.empty() || value.find_first_of(",\n\r") != std::string::npos) {
      throw Error(Errc::invalid_input, std::string("not a valid ") + kind + " name: '" + value + "'");
    }
    san += std::string(",") + kind + ":" + value;
  };
  for (const auto& n : dns_names) add("DNS", n);
  for (const auto& ip : ips) add("IP", ip);
  return san;
}

}  // namespace

TlsIdentityPaths tls_identity_paths(const std::filesystem::path& dir) {
  return {dir / "ca.pem", dir / "ca.key", dir / "server.pem", dir / "server.key"};
}

TlsIdentityPaths create_tls_identity(const std::filesystem::path& dir,
                                     const std::vector<std::string>& extra_dns_names,
                                     const std::vector<std::string>& extra_ips) {
  const TlsIdentityPaths paths = tls_identity_paths(dir);
  const std::string san = subject_alt_names(extra_dns_names, extra_ips);

  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  if (!std::filesystem::is_directory(dir)) {
    throw Error(Errc::storage, "cannot create the folder for the TLS identity", dir.string());
  }
  for (const auto& p : {paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key}) {
    if (std::filesystem::exists(p)) {
      throw Error(Errc::already_exists,
                  "a TLS identity is already there; remove it first to make a new one "
                  "(every enrolled device will then need the new ca.pem)",
                  p.string());
    }
  }

  // The certificate authority field devices pin.
  PkeyPtr ca_key = new_p256_key();
  X509Ptr ca = new_certificate(ca_key.get(), "FieldSync HQ CA", tuning::kTlsCaValidityDays);
  check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) == 1,
        "cannot set the issuer");
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  sign(ca.get(), ca_key.get());

  // The server certificate HQ presents.
  PkeyPtr server_key = new_p256_key();
  X509Ptr server =
      new_certificate(server_key.get(), "FieldSync HQ server", tuning::kTlsServerValidityDays);
  check(X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get())) == 1,
        "cannot set the issuer");
  add_ext(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(server.get(), ca.get(), NID_subject_alt_name, san, Errc::invalid_input);
  add_ext(server.get(), ca.get(), NID_subject_key_identifier, "hash");
  add_ext(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  sign(server.get(), ca_key.get());

  write_file_atomically(paths.ca_key, to_pem(ca_key.get()), 0600);
  write_file_atomically(paths.server_key, to_pem(server_key.get()), 0600);
  write_file_atomically(paths.ca_cert, to_pem(ca.get()), 0644);
  write_file_atomically(paths.server_cert, to_pem(server.get()), 0644);
  return paths;
}

std::string certificate_fingerprint_sha256(const std::filesystem::path& pem_file) {
  BioPtr bio(BIO_new_file(pem_file.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    throw Error(Errc::not_found, "cannot open the certificate", pem_file.string());
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    throw Error(Errc::invalid_input, "not a PEM certificate: " + openssl_error(), pem_file.string());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(X509_digest(cert.get(), EVP_sha256(), md, &len) == 1, "cannot hash the certificate");
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

}  // namespace fieldsync
