#include "witness/client.h"

#include <httplib.h>

#include <algorithm>

#include "core/limits.h"
#include "http/client_deadline.h"
#include "witness/witness.h"

namespace accord::witness {
namespace {

// "http://host:port/prefix/" -> {"http://host:port", "/prefix"}.
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.substr(0, scheme_end) != "http" && url.substr(0, scheme_end) != "https"))
    return InvalidArgument("witness URL \"" + Printable(url) +
                           "\": want http://HOST[:PORT][/PREFIX] or https://");
  size_t path_start = url.find('/', scheme_end + 3);
  if (path_start == scheme_end + 3) return InvalidArgument("witness URL \"" + Printable(url) + "\": no host");
  std::string origin = url.substr(0, path_start), path;
  if (path_start != std::string::npos) path = url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return std::make_pair(origin, path);
}

CosignResult Failed(Status status, int http_status) {
  CosignResult r;
  r.status = std::move(status);
  r.http_status = http_status;
  return r;
}

std::string FirstLine(std::string_view body) {
  return Printable(body.substr(0, body.find('\n')), 200);
}

// A 200 answer: signature lines. Only those by `witness` count, and each of them must verify.
// Nothing else may be in it: a blank line in the answer would move where the note's text ends,
// and a cosignature over that other text (the checkpoint with a line more) would verify here but
// make every client that trusts this witness refuse the checkpoint it is published with.
CosignResult ReadCosignatures(const note::Verifier& witness, ByteView checkpoint, const std::string& body) {
  Result<note::Note> n = note::ParseNote(checkpoint);
  if (!n.ok()) return Failed(n.status().WithContext("checkpoint"), 200);
  constexpr std::string_view kDash = "\xe2\x80\x94 ";  // "— ", which starts every signature line
  bool lines_only = !body.empty() && body.back() == '\n';
  for (size_t at = 0; lines_only && at < body.size(); at = body.find('\n', at) + 1)
    lines_only = std::string_view(body).substr(at, kDash.size()) == kDash;
  if (!lines_only)
    return Failed(
        PermissionDenied("the witness's answer is not signature lines: \"" + FirstLine(body) + "\""), 200);
  std::string cosigned = n->text + "\n" + body;
  Result<note::OpenedNote> opened = note::Open(cosigned, std::span<const note::Verifier>(&witness, 1));
  if (!opened.ok()) return Failed(opened.status().WithContext("the witness's answer"), 200);
  if (opened->note.text != n->text)
    return Failed(PermissionDenied("the witness's answer signs a text other than the checkpoint's"), 200);
  CosignResult r;
  r.http_status = 200;
  for (const note::Signature& sig : opened->note.signatures) {
    if (sig.name != witness.name || sig.key_id != witness.key_id) continue;
    r.cosignatures.push_back(sig);
    r.timestamps.push_back(GetU64(sig.data));  // Open checked it is 8 + 64 bytes
  }
  return r;
}

}  // namespace

CosignResult RequestCosignature(const std::string& url, const note::Verifier& witness, uint64_t old_size,
                                std::span<const tlog::Hash> proof, ByteView checkpoint,
                                std::chrono::milliseconds timeout, const std::string& ca_cert) {
  if (witness.type != note::KeyType::kCosignatureV1)
    return Failed(InvalidArgument("witness key " + witness.name + " is not a cosignature/v1 key"), 0);
  auto split = SplitUrl(url);
  if (!split.ok()) return Failed(split.status(), 0);
  httplib::Client client(split->first);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  if (!ca_cert.empty()) client.set_ca_cert_path(ca_cert);

  httplib::Request req;
  req.method = "POST";
  req.path = split->second + "/add-checkpoint";
  req.body = FormatAddCheckpointRequest({old_size, {proof.begin(), proof.end()}, std::string(checkpoint)});
  req.set_header("Content-Type", "text/plain");
  std::string body;
  bool too_large = false;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (body.size() + len > limits::kMaxNoteSize) {
      too_large = true;
      return false;
    }
    body.append(data, len);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  // The whole exchange within `timeout`: a witness that trickles its answer would otherwise hold
  // the node's publication for as long as it likes.
  bool timed_out = false;
  const bool sent = http::WithDeadline(
      client, timeout, [&] { return client.send(req, res, error); }, &timed_out);
  if (!sent) {
    if (too_large)
      return Failed(
          ResourceExhausted(url + ": the answer is over " + std::to_string(limits::kMaxNoteSize) + " bytes"),
          0);
    if (timed_out)
      return Failed(Unavailable(url + ": no whole answer within " + std::to_string(timeout.count()) + " ms"),
                    0);
    return Failed(Unavailable(url + ": no answer: " + httplib::to_string(error)), 0);
  }
  int code = res.status;
  std::string where = url + ": HTTP " + std::to_string(code) + ": ";
  switch (code) {
    case 200: {
      CosignResult r = ReadCosignatures(witness, checkpoint, body);
      if (!r.ok()) r.status = r.status.WithContext(url);
      return r;
    }
    case 409: {
      std::string type = res.get_header_value("Content-Type");
      if (type.substr(0, kSizeContentType.size()) == kSizeContentType) {
        std::optional<uint64_t> size;
        if (!body.empty() && body.back() == '\n')
          size = ParseDecimal(std::string_view(body).substr(0, body.size() - 1));
        if (!size) return Failed(Internal(where + "a size that is not a decimal line"), code);
        CosignResult r =
            Failed(FailedPrecondition(where + "the witness last cosigned size " + std::to_string(*size) +
                                      ", not " + std::to_string(old_size)),
                   code);
        r.witness_size = size;
        return r;
      }
      return Failed(AlreadyExists(where + FirstLine(body)), code);
    }
    case 404:
      return Failed(NotFound(where + FirstLine(body)), code);
    case 403:
      return Failed(PermissionDenied(where + FirstLine(body)), code);
    case 400:
    case 413:
    case 422:
      return Failed(InvalidArgument(where + FirstLine(body)), code);
    default:
      if (code >= 500) return Failed(Unavailable(where + FirstLine(body)), code);
      return Failed(Internal(where + FirstLine(body)), code);
  }
}

Result<std::string> AddCosignatures(ByteView checkpoint, std::span<const note::Signature> cosignatures) {
  ASSIGN_OR_RETURN(note::Note n, note::ParseNote(checkpoint));
  for (const note::Signature& sig : cosignatures) {
    auto have = std::find_if(n.signatures.begin(), n.signatures.end(), [&](const note::Signature& s) {
      return s.name == sig.name && s.key_id == sig.key_id;
    });
    if (have != n.signatures.end()) {
      *have = sig;
      continue;
    }
    if (n.signatures.size() >= limits::kMaxNoteSignatures)
      return ResourceExhausted("checkpoint: more than " + std::to_string(limits::kMaxNoteSignatures) +
                               " signatures");
    n.signatures.push_back(sig);
  }
  return note::FormatNote(n);
}

}  // namespace accord::witness
