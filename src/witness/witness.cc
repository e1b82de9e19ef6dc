#include "witness/witness.h"

#include <cstring>
#include <ctime>

#include "core/limits.h"
#include "crypto/sha256.h"

namespace accord::witness {
namespace {

constexpr std::string_view kOldPrefix = "old ";

Response Answer(int status, std::string message) {
  return {status, std::string(kTextContentType), std::move(message) + "\n"};
}

std::string OriginFileName(std::string_view origin) {
  return HexEncode(crypto::AsView(crypto::Sha256(origin)));
}

struct ParsedCheckpoint {
  note::Note note;
  tlog::Checkpoint checkpoint;
};

Result<ParsedCheckpoint> ParseSignedCheckpoint(ByteView signed_note) {
  ParsedCheckpoint out;
  ASSIGN_OR_RETURN(out.note, note::ParseNote(signed_note));
  ASSIGN_OR_RETURN(out.checkpoint, tlog::ParseCheckpoint(out.note.text));
  return out;
}

Result<LogState> ReadState(const std::string& path, const std::string& origin) {
  Result<Bytes> data = fs::ReadFile(path, kStateHeader.size() + 1 + limits::kMaxNoteSize);
  if (!data.ok()) return data.status();
  ByteView rest = *data;
  std::string header = std::string(kStateHeader) + "\n";
  if (rest.substr(0, header.size()) != header)
    return DataLoss(path + ": does not start with \"" + std::string(kStateHeader) + "\"");
  rest.remove_prefix(header.size());
  Result<ParsedCheckpoint> parsed = ParseSignedCheckpoint(rest);
  if (!parsed.ok()) return DataLoss(path + ": " + parsed.status().message());
  if (parsed->checkpoint.origin != origin)
    return DataLoss(path + ": holds a checkpoint of \"" + Printable(parsed->checkpoint.origin) +
                    "\", want \"" + origin + "\"");
  return LogState{std::move(parsed->checkpoint), std::string(rest)};
}

}  // namespace

Result<AddCheckpointRequest> ParseAddCheckpointRequest(ByteView body) {
  if (body.size() > limits::kMaxWitnessRequestSize)
    return ResourceExhausted("request: " + std::to_string(body.size()) + " bytes, over the limit of " +
                             std::to_string(limits::kMaxWitnessRequestSize));
  AddCheckpointRequest req;
  size_t line_no = 0;
  auto next_line = [&](std::string_view* line) {
    ++line_no;
    size_t nl = body.find('\n');
    if (nl == std::string_view::npos) return false;
    *line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    return true;
  };
  auto error = [&](const std::string& what) {
    return InvalidArgument("request line " + std::to_string(line_no) + ": " + what);
  };
  std::string_view line;
  if (!next_line(&line)) return error("no old size line");
  std::optional<uint64_t> old;
  if (line.substr(0, kOldPrefix.size()) == kOldPrefix) old = ParseDecimal(line.substr(kOldPrefix.size()));
  if (!old) return error("want \"old <size>\" in decimal, got \"" + Printable(line) + "\"");
  req.old_size = *old;
  while (true) {
    if (!next_line(&line)) return error("no empty line before the checkpoint");
    if (line.empty()) break;
    if (req.proof.size() >= limits::kMaxWitnessProofLines)
      return error("more than " + std::to_string(limits::kMaxWitnessProofLines) + " consistency proof lines");
    std::optional<Bytes> hash = Base64Decode(line);
    if (!hash || hash->size() != 32) return error("a proof line is not base64 of a 32-byte hash");
    tlog::Hash h;
    std::memcpy(h.data(), hash->data(), 32);
    req.proof.push_back(h);
  }
  Result<ParsedCheckpoint> cp = ParseSignedCheckpoint(body);
  if (!cp.ok()) return cp.status().WithContext("request: checkpoint");
  req.checkpoint = std::string(body);
  return req;
}

std::string FormatAddCheckpointRequest(const AddCheckpointRequest& req) {
  std::string out = std::string(kOldPrefix) + std::to_string(req.old_size) + "\n";
  for (const tlog::Hash& h : req.proof) out += Base64Encode(crypto::AsView(h)) + "\n";
  out += "\n";
  out += req.checkpoint;
  return out;
}

Result<std::unique_ptr<Witness>> Witness::Open(WitnessOptions o) {
  if (o.key.type != note::KeyType::kCosignatureV1)
    return InvalidArgument("witness key " + o.key.name +
                           " is not a cosignature/v1 key (accord key generate --cosigner)");
  if (o.logs.empty()) return InvalidArgument("a witness needs at least one log to follow");
  if (o.logs.size() > limits::kMaxWitnessLogs)
    return ResourceExhausted(std::to_string(o.logs.size()) + " logs, over the limit of " +
                             std::to_string(limits::kMaxWitnessLogs));
  for (const note::Verifier& v : o.logs)
    if (v.type != note::KeyType::kEd25519)
      return InvalidArgument("log key " + v.name + " is not an Ed25519 (type 1) checkpoint key");
  RETURN_IF_ERROR(fs::MakeDirs(fs::JoinPath(o.dir, "state")));
  ASSIGN_OR_RETURN(fs::FileLock lock,
                   fs::FileLock::Acquire(fs::JoinPath(o.dir, "lock"), "witness directory " + o.dir));
  std::unique_ptr<Witness> w(new Witness(std::move(lock), o.key));
  w->dir_ = o.dir;
  w->clock_ = o.clock ? std::move(o.clock) : [] { return uint64_t(std::time(nullptr)); };
  for (const note::Verifier& v : o.logs) {
    auto& log = w->origins_[v.name];
    if (!log) {
      log = std::make_unique<Origin>();
      log->path = fs::JoinPath(fs::JoinPath(o.dir, "state"), OriginFileName(v.name));
      Result<LogState> state = ReadState(log->path, v.name);
      if (state.ok()) {
        log->state = std::move(state).value();
      } else if (state.status().code() != Code::kNotFound) {
        return state.status().WithContext("witness state of " + v.name);
      }
    }
    log->keys.push_back(v);
  }
  return w;
}

std::optional<LogState> Witness::State(const std::string& origin) {
  auto it = origins_.find(origin);
  if (it == origins_.end()) return std::nullopt;
  std::lock_guard lock(it->second->mu);
  return it->second->state;
}

void Witness::KeepEvidence(const Origin& log, const std::string& signed_note) {
  // Two checkpoints of one size with different roots, both signed by the log: proof that it
  // showed a split view. Kept beside the state, one file per checkpoint, named by size and root.
  std::string dir =
      fs::JoinPath(fs::JoinPath(dir_, "evidence"), OriginFileName(log.state->checkpoint.origin));
  if (!fs::MakeDirs(dir).ok()) return;
  for (const std::string* n : {&log.state->note, &signed_note}) {
    Result<ParsedCheckpoint> cp = ParseSignedCheckpoint(*n);
    if (!cp.ok()) continue;
    std::string path = fs::JoinPath(
        dir, std::to_string(cp->checkpoint.size) + "-" + HexEncode(crypto::AsView(cp->checkpoint.root)));
    if (!fs::Exists(path)) (void)fs::WriteFileAtomic(path, *n);
  }
}

Response Witness::AddCheckpoint(ByteView body) {
  if (body.size() > limits::kMaxWitnessRequestSize)
    return Answer(
        413, "the body is over the limit of " + std::to_string(limits::kMaxWitnessRequestSize) + " bytes");
  Result<AddCheckpointRequest> req = ParseAddCheckpointRequest(body);
  if (!req.ok()) return Answer(400, req.status().message());
  Result<ParsedCheckpoint> parsed = ParseSignedCheckpoint(req->checkpoint);
  if (!parsed.ok()) return Answer(400, parsed.status().message());  // ParseAddCheckpointRequest checked it
  const tlog::Checkpoint& cp = parsed->checkpoint;
  auto it = origins_.find(cp.origin);
  if (it == origins_.end()) return Answer(404, "unknown log \"" + Printable(cp.origin) + "\"");
  Origin& log = *it->second;
  Result<note::OpenedNote> opened = note::Open(req->checkpoint, log.keys);
  if (!opened.ok()) return Answer(403, "checkpoint of " + cp.origin + ": " + opened.status().message());
  if (req->old_size > cp.size)
    return Answer(400, "old size " + std::to_string(req->old_size) + " is above the checkpoint's size " +
                           std::to_string(cp.size));

  std::lock_guard lock(log.mu);
  uint64_t stored = log.state ? log.state->checkpoint.size : 0;
  if (req->old_size != stored) return {409, std::string(kSizeContentType), std::to_string(stored) + "\n"};
  if (cp.size == stored) {
    if (log.state && log.state->checkpoint.root != cp.root) {
      KeepEvidence(log, req->checkpoint);
      return Answer(409, "split view: " + cp.origin + " at size " + std::to_string(cp.size) + " has root " +
                             Base64Encode(crypto::AsView(cp.root)) + ", but this witness cosigned root " +
                             Base64Encode(crypto::AsView(log.state->checkpoint.root)));
    }
    if (!req->proof.empty()) return Answer(422, "the consistency proof between equal sizes must be empty");
  } else if (req->old_size == 0) {
    if (!req->proof.empty()) return Answer(422, "the consistency proof from size 0 must be empty");
  } else {
    Status s = tlog::VerifyConsistency(req->old_size, cp.size, crypto::AsView(log.state->checkpoint.root),
                                       crypto::AsView(cp.root), req->proof);
    if (!s.ok())
      return Answer(422, "consistency proof from size " + std::to_string(req->old_size) + " to " +
                             std::to_string(cp.size) + ": " + s.message());
  }
  // Stored before answering: a cosignature is never given for a state that a crash could lose.
  if (!log.state || cp.size != stored) {
    Status s = fs::WriteFileAtomic(log.path, std::string(kStateHeader) + "\n" + req->checkpoint);
    if (!s.ok()) return Answer(500, "the witness could not store its state; nothing was cosigned");
    log.state = LogState{cp, req->checkpoint};
  }
  Result<note::Signature> sig = note::Cosign(key_, opened->note.text, clock_());
  if (!sig.ok()) return Answer(500, "cosigning failed: " + sig.status().message());
  return {200, std::string(kTextContentType), note::FormatSignatureLine(*sig)};
}

}  // namespace accord::witness
