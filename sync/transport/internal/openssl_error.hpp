// The newest OpenSSL error, in words, and the error queue cleared for the next call. Internal to
// sync/ (the server's TLS setup and the TLS identity both report OpenSSL failures).
#pragma once

#include <openssl/err.h>

#include <string>

namespace fieldsync::internal {

inline std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

}  // namespace fieldsync::internal
