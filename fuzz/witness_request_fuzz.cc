// witness::ParseAddCheckpointRequest (c2sp.org/tlog-witness add-checkpoint bodies) on arbitrary
// bytes, and Witness::AddCheckpoint with them against a witness that follows the fuzz log key.
//
// Properties: a parsed request formats back to exactly the input (one spelling per request); it
// has at most 63 proof hashes and a checkpoint that parses. The witness answers only with the
// status codes of the spec (200, 400, 403, 404, 409, 413, 422), 409 with the size content type or
// as a split view, and every 200 is a cosignature by the witness key that verifies over the
// checkpoint. The witness's stored size never decreases.
#include <unistd.h>

#include <cstdlib>

#include "core/fs.h"
#include "core/limits.h"
#include "fuzz_common.h"
#include "witness/witness.h"

namespace {
using namespace accord;

// One witness for the whole run, in a scratch directory removed at exit.
struct FuzzWitness {
  std::string dir;
  std::unique_ptr<witness::Witness> w;
  FuzzWitness() {
    char tmpl[] = "/tmp/accord-fuzz-witness-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    witness::WitnessOptions o;
    o.dir = dir;
    o.key = fuzz::WitnessSigner();
    o.logs = {fuzz::LogSigner().verifier()};
    o.clock = [] { return uint64_t(1700000000); };
    auto opened = witness::Witness::Open(std::move(o));
    FUZZ_CHECK(opened.ok());
    w = std::move(opened).value();
  }
  ~FuzzWitness() {
    w.reset();
    (void)fs::RemoveTree(dir);
  }
};

uint64_t StoredSize(witness::Witness& w) {
  auto s = w.State(std::string(fuzz::kLogKeyName));
  return s ? s->checkpoint.size : 0;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzWitness fw;
  ByteView in = fuzz::AsBytes(data, size);
  Result<witness::AddCheckpointRequest> req = witness::ParseAddCheckpointRequest(in);
  if (req.ok()) {
    FUZZ_CHECK(req->proof.size() <= limits::kMaxWitnessProofLines);
    FUZZ_CHECK(witness::FormatAddCheckpointRequest(*req) == in);
  }
  uint64_t before = StoredSize(*fw.w);
  witness::Response r = fw.w->AddCheckpoint(in);
  uint64_t after = StoredSize(*fw.w);
  FUZZ_CHECK(after >= before);
  switch (r.status) {
    case 200: {
      FUZZ_CHECK(req.ok());
      note::Note n = note::ParseNote(req->checkpoint).value();
      note::Verifier v = fuzz::WitnessSigner().verifier();
      auto opened = note::Open(n.text + "\n" + r.body, std::span<const note::Verifier>(&v, 1));
      FUZZ_CHECK(opened.ok());
      FUZZ_CHECK(opened->verified.size() == 1 && opened->verified[0].timestamp == 1700000000);
      break;
    }
    case 409:
      FUZZ_CHECK(r.content_type == witness::kSizeContentType
                     ? r.body == std::to_string(after) + "\n"
                     : r.body.find("split view") != std::string::npos);
      break;
    case 400:
    case 403:
    case 404:
    case 413:
    case 422:
      FUZZ_CHECK(after == before);
      break;
    default:
      FUZZ_CHECK(false && "a status the spec does not have");
  }
  return 0;
}
