#define OPENSSL_SUPPRESS_DEPRECATED  // the low-level calls skip EVP's per-call method fetch
#include "scan/digest.h"

#include <openssl/md5.h>
#include <openssl/sha.h>

namespace accord::scan {

Digests ComputeDigests(ByteView data, bool md5, bool sha1) {
  Digests d;
  MD5_CTX m;
  SHA_CTX s1;
  SHA256_CTX s256;
  if (md5) MD5_Init(&m);
  if (sha1) SHA1_Init(&s1);
  SHA256_Init(&s256);
  // Chunks small enough to stay in L2 while every digest reads them.
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    const char* p = data.data() + off;
    if (md5) MD5_Update(&m, p, n);
    if (sha1) SHA1_Update(&s1, p, n);
    SHA256_Update(&s256, p, n);
  }
  if (md5) {
    MD5_Final(d.md5.data(), &m);
    d.has_md5 = true;
  }
  if (sha1) {
    SHA1_Final(d.sha1.data(), &s1);
    d.has_sha1 = true;
  }
  SHA256_Final(d.sha256.data(), &s256);
  return d;
}

}  // namespace accord::scan
