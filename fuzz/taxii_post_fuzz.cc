// What a TAXII POST hands the node from outside (node/taxii.h, "Adding objects"): the envelope's
// objects through stix::BodyFromObject, the Authorization header through TokenFromAuthorization,
// and the operator's token file through ParseTokenFile. The first byte picks which.
//
// Properties: nothing crashes; a body BodyFromObject accepts is a valid statement body: attested
// for a registered author it parses back as node-attested with the same kind and body; a
// refusal is InvalidArgument with a message; a token comes back non-empty and at most 256 bytes;
// a token file that parses has well-formed entries (64 hex digits, a 32-byte key, a label).
#include <string>

#include "fuzz_common.h"
#include "node/stix.h"
#include "node/tokens.h"
#include "statement/statement.h"

using namespace accord;
using namespace accord::node;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView in = fuzz::AsBytes(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      json::Json envelope = json::Json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (envelope.is_discarded()) return 0;
      const json::Json* objects = &envelope;
      if (envelope.is_object() && envelope.contains("objects")) objects = &envelope["objects"];
      if (!objects->is_array()) objects = nullptr;
      std::vector<json::Json> list;
      if (objects) {
        for (const json::Json& o : *objects) list.push_back(o);
      } else {
        list.push_back(envelope);
      }
      static const crypto::Ed25519KeyPair node = [] {
        crypto::Ed25519Seed seed;
        seed.fill(7);
        return crypto::Ed25519FromSeed(seed);
      }();
      for (const json::Json& o : list) {
        Result<stix::PostedBody> b = stix::BodyFromObject(o);
        if (!b.ok()) {
          FUZZ_CHECK(b.status().code() == Code::kInvalidArgument);
          FUZZ_CHECK(!b.status().message().empty());
          continue;
        }
        statement::Statement st;
        st.kind = b->kind;
        st.author = node.public_key;
        st.created = "2026-11-28T10:00:00Z";
        st.body = b->body;
        Result<Bytes> leaf = statement::Attest(st, node);
        if (!leaf.ok()) {
          FUZZ_CHECK(leaf.status().code() == Code::kResourceExhausted);  // a body over 64 KiB signed
          continue;
        }
        Result<statement::SignedStatement> p = statement::Parse(*leaf);
        FUZZ_CHECK(p.ok());
        FUZZ_CHECK(p->attested_by && *p->attested_by == node.public_key);
        FUZZ_CHECK(p->statement.kind == b->kind && p->statement.body == b->body);
      }
      break;
    }
    case 1: {
      std::optional<std::string> token = TokenFromAuthorization(in);
      if (token) FUZZ_CHECK(!token->empty() && token->size() <= 256);
      break;
    }
    case 2: {
      Result<std::vector<TokenEntry>> entries = ParseTokenFile(in);
      if (!entries.ok()) {
        FUZZ_CHECK(entries.status().code() == Code::kInvalidArgument);
        break;
      }
      for (const TokenEntry& e : *entries) {
        FUZZ_CHECK(e.sha256_hex.size() == 64);
        FUZZ_CHECK(!e.label.empty() && e.label.size() <= 64);
      }
      break;
    }
  }
  return 0;
}
