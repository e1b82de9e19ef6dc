// accord: the command line. Thin by design: it parses arguments, reads and writes files and
// standard streams, and calls the libraries; all logic lives in src/<part>/.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <deque>
#include <iostream>
#include <new>

#include "cli/node_commands.h"
#include "cli/scan_commands.h"
#include "cli/scand_commands.h"
#include "cli/statement_commands.h"
#include "cli/update_commands.h"
#include "cli/witness_commands.h"
#include "core/fs.h"
#include "core/limits.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"
#include "tlog/log.h"
#include "tlog/proof_text.h"
#include "tlog/tile.h"

namespace accord {
namespace {

constexpr int kExitFailure = 1;  // the operation failed or a check did not hold
constexpr int kExitUsage = 2;
constexpr int kExitInternal = 2;  // out of memory, an exception nothing else caught (scan: "errors")

int Fail(const Status& s) {
  std::fprintf(stderr, "accord: %s\n", s.ToString().c_str());
  return kExitFailure;
}

Result<Bytes> ReadInput(const std::string& path, size_t max) {
  if (path != "-") return fs::ReadFile(path, max);
  Bytes all;
  char buf[1 << 16];
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, stdin);
    all.append(buf, n);
    if (all.size() > max) return ResourceExhausted("standard input: over " + std::to_string(max) + " bytes");
    if (n < sizeof buf) break;
  }
  if (std::ferror(stdin)) return Internal("reading standard input failed");
  return all;
}

Result<note::Verifier> ReadVerifier(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxKeyFileSize));
  Result<note::Verifier> v = note::ParseVerifierKey(text);
  if (!v.ok()) return v.status().WithContext(path);
  return v;
}

Result<note::Signer> ReadSignerFile(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes text, fs::ReadFile(path, limits::kMaxKeyFileSize));
  Result<note::Signer> s = note::ParseSignerKey(text);
  if (!s.ok()) return s.status().WithContext(path);
  return s;
}

// ---- accord key generate
int KeyGenerate(const std::string& name, const std::string& dir, const std::string& key_name, bool cosigner) {
  std::string kname = key_name.empty() ? name : key_name;
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
    return Fail(InvalidArgument("NAME \"" + name +
                                "\" must be a plain file name; use --key-name for names with '/'"));
  auto signer =
      note::GenerateSigner(kname, cosigner ? note::KeyType::kCosignatureV1 : note::KeyType::kEd25519);
  if (!signer.ok()) return Fail(signer.status());
  std::string key_path = fs::JoinPath(dir, name + ".key"), vkey_path = fs::JoinPath(dir, name + ".vkey");
  for (const auto& p : {key_path, vkey_path})
    if (fs::Exists(p)) return Fail(AlreadyExists(p + ": exists; refusing to overwrite a key"));
  Status s = fs::MakeDirs(dir);
  if (s.ok()) s = fs::WriteFileAtomic(key_path, note::FormatSignerKey(*signer) + "\n", 0600);
  if (s.ok()) s = fs::WriteFileAtomic(vkey_path, note::FormatVerifierKey(signer->verifier()) + "\n", 0644);
  if (!s.ok()) return Fail(s);
  std::printf("%s\n", note::FormatVerifierKey(signer->verifier()).c_str());
  return 0;
}

// ---- accord log append
int LogAppend(const std::string& dir, const std::vector<std::string>& files) {
  // Everything is read and checked before the first entry is submitted, so bad input changes
  // nothing.
  std::vector<Bytes> file_data;
  Bytes input;
  std::vector<ByteView> entries;
  if (!files.empty()) {
    for (const auto& f : files) {
      Result<Bytes> data = fs::ReadFile(f, limits::kMaxEntrySize);
      if (!data.ok()) {
        if (data.status().code() == Code::kResourceExhausted)
          return Fail(
              InvalidArgument(f + ": over the entry limit of " + std::to_string(limits::kMaxEntrySize) +
                              " bytes (64 KiB - 1); store large content beside the log and append its hash"));
        return Fail(data.status());
      }
      file_data.push_back(std::move(data).value());
    }
    for (const auto& d : file_data) entries.push_back(d);
  } else {
    Result<Bytes> data = ReadInput("-", size_t(64) << 30);
    if (!data.ok()) return Fail(data.status());
    input = std::move(data).value();
    std::string_view rest = input;
    size_t line = 0;
    while (!rest.empty()) {
      ++line;
      size_t nl = rest.find('\n');
      std::string_view e = rest.substr(0, nl);
      if (e.size() > limits::kMaxEntrySize)
        return Fail(InvalidArgument("standard input line " + std::to_string(line) + ": " +
                                    std::to_string(e.size()) + " bytes, over the entry limit of " +
                                    std::to_string(limits::kMaxEntrySize) + " bytes; nothing was appended"));
      entries.push_back(e);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
  }
  auto writer = tlog::LogWriter::Open(dir);
  if (!writer.ok()) return Fail(writer.status());
  constexpr size_t kChunk = 4096;
  struct Sent {
    std::future<Result<uint64_t>> first;
    size_t count;
  };
  std::deque<Sent> sent;
  auto drain_one = [&]() -> Status {
    Result<uint64_t> first = sent.front().first.get();
    if (!first.ok()) return first.status();
    std::string out;
    for (size_t i = 0; i < sent.front().count; ++i) out += std::to_string(*first + i) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    sent.pop_front();
    return Status::Ok();
  };
  for (size_t i = 0; i < entries.size(); i += kChunk) {
    tlog::EntryBatch batch;
    for (size_t j = i; j < std::min(entries.size(), i + kChunk); ++j) (void)batch.Add(entries[j]);
    size_t count = batch.size();
    sent.push_back({(*writer)->Submit(std::move(batch)), count});
    while (sent.size() > 64 || (!sent.empty() && sent.front().first.wait_for(std::chrono::seconds(0)) ==
                                                     std::future_status::ready)) {
      Status s = drain_one();
      if (!s.ok()) return Fail(s);
    }
  }
  while (!sent.empty()) {
    Status s = drain_one();
    if (!s.ok()) return Fail(s);
  }
  auto cp = (*writer)->Sync();
  if (!cp.ok()) return Fail(cp.status());
  return 0;
}

// ---- accord log checkpoint / prove
Result<tlog::Checkpoint> UnverifiedCheckpoint(const std::string& dir, std::string* raw) {
  std::string path = fs::JoinPath(dir, "checkpoint");
  ASSIGN_OR_RETURN(*raw, fs::ReadFile(path, limits::kMaxNoteSize));
  Result<note::Note> n = note::ParseNote(*raw);
  if (!n.ok()) return n.status().WithContext(path);
  Result<tlog::Checkpoint> cp = tlog::ParseCheckpoint(n->text);
  if (!cp.ok()) return cp.status().WithContext(path);
  return cp;
}

int LogProve(const std::string& dir, std::optional<uint64_t> index, std::optional<uint64_t> from,
             std::optional<uint64_t> size_opt) {
  std::string raw;
  auto cp = UnverifiedCheckpoint(dir, &raw);
  if (!cp.ok()) return Fail(cp.status());
  uint64_t size = size_opt.value_or(cp->size);
  if (size > cp->size)
    return Fail(InvalidArgument("--size " + std::to_string(size) + " is beyond the checkpoint's size " +
                                std::to_string(cp->size)));
  tlog::DirTileReader reader(dir);
  tlog::TileHashSource source(reader, cp->size);  // proofs for older sizes come from today's tiles
  tlog::ProofText p;
  if (index) {
    p.kind = tlog::ProofText::Kind::kInclusion;
    p.index = *index;
    auto hashes = tlog::ProveInclusion(source, *index, size);
    if (!hashes.ok()) return Fail(hashes.status());
    p.hashes = std::move(hashes).value();
  } else {
    p.kind = tlog::ProofText::Kind::kConsistency;
    p.old_size = *from;
    auto hashes = tlog::ProveConsistency(source, *from, size);
    if (!hashes.ok()) return Fail(hashes.status());
    p.hashes = std::move(hashes).value();
  }
  if (size == cp->size) {
    p.checkpoint = raw;
  } else {
    p.size = size;
    auto root = size == 0 ? Result<tlog::Hash>(tlog::EmptyRoot()) : tlog::RangeRoot(source, 0, size);
    if (!root.ok()) return Fail(root.status());
    p.root = *root;
  }
  std::fputs(tlog::FormatProof(p).c_str(), stdout);
  return 0;
}

int LogVerifyProof(const std::string& proof_path, const std::string& vkey_path, const std::string& entry_path,
                   const std::string& old_path) {
  auto vkey = ReadVerifier(vkey_path);
  if (!vkey.ok()) return Fail(vkey.status());
  auto text = ReadInput(proof_path, limits::kMaxProofFileSize);
  if (!text.ok()) return Fail(text.status());
  auto proof = tlog::ParseProof(*text);
  if (!proof.ok()) return Fail(proof.status().WithContext(proof_path));
  if (proof->checkpoint.empty())
    return Fail(InvalidArgument(
        proof_path + ": this proof carries no checkpoint; compare its root with a checkpoint you trust"));
  auto cp = tlog::OpenCheckpoint(proof->checkpoint, *vkey);
  if (!cp.ok()) return Fail(cp.status().WithContext(proof_path));
  const tlog::Checkpoint& c = cp->checkpoint;
  if (proof->kind == tlog::ProofText::Kind::kInclusion) {
    if (entry_path.empty())
      return Fail(InvalidArgument("an inclusion proof needs --entry FILE (the entry's bytes)"));
    auto entry = fs::ReadFile(entry_path, limits::kMaxEntrySize);
    if (!entry.ok()) return Fail(entry.status());
    Status s = tlog::VerifyInclusion(proof->index, c.size, tlog::HashLeaf(*entry), proof->hashes,
                                     crypto::AsView(c.root));
    if (!s.ok()) return Fail(s.WithContext(proof_path));
    std::printf("OK: %s is entry %llu of %s at size %llu\n", entry_path.c_str(),
                (unsigned long long)proof->index, c.origin.c_str(), (unsigned long long)c.size);
    return 0;
  }
  if (old_path.empty()) return Fail(InvalidArgument("a consistency proof needs --old-checkpoint FILE"));
  auto old_raw = fs::ReadFile(old_path, limits::kMaxNoteSize);
  if (!old_raw.ok()) return Fail(old_raw.status());
  auto old = tlog::OpenCheckpoint(*old_raw, *vkey, {}, c.origin);
  if (!old.ok()) return Fail(old.status().WithContext(old_path));
  if (old->checkpoint.size != proof->old_size)
    return Fail(InvalidArgument(proof_path + ": proves from size " + std::to_string(proof->old_size) +
                                " but " + old_path + " has size " + std::to_string(old->checkpoint.size)));
  Status s = tlog::VerifyConsistency(old->checkpoint.size, c.size, crypto::AsView(old->checkpoint.root),
                                     crypto::AsView(c.root), proof->hashes);
  if (!s.ok()) return Fail(s.WithContext(proof_path));
  std::printf("OK: %s at size %llu is a prefix of size %llu\n", c.origin.c_str(),
              (unsigned long long)old->checkpoint.size, (unsigned long long)c.size);
  return 0;
}

int LogVerify(const std::string& dir, const std::string& vkey_path) {
  auto vkey = ReadVerifier(vkey_path);
  if (!vkey.ok()) return Fail(vkey.status());
  auto report = tlog::VerifyLog(dir, *vkey);
  if (!report.ok()) return Fail(report.status());
  const auto& c = report->checkpoint.checkpoint;
  std::printf("OK: %s, %llu entries, root %s; %llu tiles and %llu entry bundles verified\n", c.origin.c_str(),
              (unsigned long long)c.size, Base64Encode(crypto::AsView(c.root)).c_str(),
              (unsigned long long)report->tiles, (unsigned long long)report->bundles);
  return 0;
}

int NoteVerify(const std::string& path, const std::vector<std::string>& vkeys) {
  std::vector<note::Verifier> known;
  for (const auto& p : vkeys) {
    auto v = ReadVerifier(p);
    if (!v.ok()) return Fail(v.status());
    known.push_back(*v);
  }
  auto text = ReadInput(path, limits::kMaxNoteSize);
  if (!text.ok()) return Fail(text.status());
  auto opened = note::Open(*text, known);
  if (!opened.ok()) return Fail(opened.status().WithContext(path));
  for (const auto& v : opened->verified) std::printf("verified: %s\n", known[v.verifier].name.c_str());
  return 0;
}

int NoteSign(const std::string& path, const std::string& key_path) {
  auto signer = ReadSignerFile(key_path);
  if (!signer.ok()) return Fail(signer.status());
  auto text = ReadInput(path, limits::kMaxNoteSize);
  if (!text.ok()) return Fail(text.status());
  // A signed note (e.g. a checkpoint) gets one more signature; plain text becomes a note.
  note::Note n;
  if (auto parsed = note::ParseNote(*text); parsed.ok()) {
    n = std::move(parsed).value();
  } else {
    n.text = *text;
  }
  auto sig = signer->type == note::KeyType::kEd25519
                 ? note::Sign(*signer, n.text)
                 : note::Cosign(*signer, n.text, uint64_t(::time(nullptr)));
  if (!sig.ok()) return Fail(sig.status());
  n.signatures.push_back(*sig);
  std::fputs(note::FormatNote(n).c_str(), stdout);
  return 0;
}

}  // namespace
}  // namespace accord

int main(int argc, char** argv) {
  using namespace accord;
  CLI::App app{"accord: rules and indicators that anyone can verify, from a witnessed transparency log"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "accord 0.1.0");
  int rc = 0;

  auto* key = app.add_subcommand("key", "Ed25519 keys in the signed-note format")->require_subcommand(1);
  auto* keygen = key->add_subcommand("generate", "write DIR/NAME.key (private, mode 0600) and DIR/NAME.vkey");
  std::string kg_name, kg_dir, kg_keyname;
  bool kg_cosigner = false;
  keygen->add_option("NAME", kg_name, "file name of the key pair")->required();
  keygen->add_option("DIR", kg_dir, "directory for the key files")->required();
  keygen->add_option("--key-name", kg_keyname, "name inside the key (default NAME), e.g. the log's origin");
  keygen->add_flag("--cosigner", kg_cosigner, "a witness key (cosignature/v1, type 4) instead of a log key");
  keygen->callback([&] { rc = KeyGenerate(kg_name, kg_dir, kg_keyname, kg_cosigner); });

  auto* log =
      app.add_subcommand("log", "a transparency log in a directory (C2SP tlog-tiles)")->require_subcommand(1);
  std::string dir, origin, key_file, vkey_file, proof_file, entry_file, old_file;
  std::vector<std::string> files;
  auto* init = log->add_subcommand("init", "create an empty log");
  init->add_option("DIR", dir)->required();
  init->add_option("--origin", origin, "the checkpoint origin, e.g. example.com/log")->required();
  init->add_option("--key", key_file, "the log's private key (kept outside DIR)")->required();
  init->callback([&] {
    Status s = tlog::InitLog(dir, origin, key_file);
    rc = s.ok() ? 0 : Fail(s);
    if (s.ok()) {
      std::string raw;
      if (UnverifiedCheckpoint(dir, &raw).ok()) std::fputs(raw.c_str(), stdout);
    }
  });
  auto* append =
      log->add_subcommand("append", "append each FILE, or each line of standard input, as an entry");
  append->add_option("DIR", dir)->required();
  append->add_option("FILE", files);
  append->callback([&] { rc = LogAppend(dir, files); });
  auto* checkpoint = log->add_subcommand("checkpoint", "print the current checkpoint");
  checkpoint->add_option("DIR", dir)->required();
  checkpoint->callback([&] {
    std::string raw;
    auto cp = UnverifiedCheckpoint(dir, &raw);
    rc = cp.ok() ? (std::fputs(raw.c_str(), stdout), 0) : Fail(cp.status());
  });
  auto* prove = log->add_subcommand("prove", "print an inclusion (--index) or consistency (--from) proof");
  std::optional<uint64_t> p_index, p_from, p_size;
  prove->add_option("DIR", dir)->required();
  auto* o_index = prove->add_option("--index", p_index, "entry to prove included");
  auto* o_from = prove->add_option("--from", p_from, "older tree size to prove consistent");
  o_index->excludes(o_from);
  prove->add_option("--size", p_size, "tree size (default: the checkpoint's)");
  prove->callback([&] {
    if (!p_index && !p_from) {
      std::fprintf(stderr, "accord: log prove needs --index I or --from M\n");
      rc = kExitUsage;
      return;
    }
    rc = LogProve(dir, p_index, p_from, p_size);
  });
  auto* verify = log->add_subcommand("verify", "check the checkpoint, every tile and every entry");
  verify->add_option("DIR", dir)->required();
  verify->add_option("--vkey", vkey_file, "the log's verifier key file")->required();
  verify->callback([&] { rc = LogVerify(dir, vkey_file); });
  auto* vproof = log->add_subcommand("verify-proof", "check a proof file offline (- for standard input)");
  vproof->add_option("PROOF", proof_file)->required();
  vproof->add_option("--vkey", vkey_file, "the log's verifier key file")->required();
  vproof->add_option("--entry", entry_file, "inclusion: the entry's bytes");
  vproof->add_option("--old-checkpoint", old_file, "consistency: the older checkpoint you trust");
  vproof->callback([&] { rc = LogVerifyProof(proof_file, vkey_file, entry_file, old_file); });

  auto* note_cmd = app.add_subcommand("note", "signed notes (C2SP signed-note)")->require_subcommand(1);
  std::vector<std::string> vkeys;
  auto* nverify = note_cmd->add_subcommand("verify", "verify a signed note against verifier keys");
  nverify->add_option("FILE", proof_file)->required();
  nverify->add_option("--vkey", vkeys, "verifier key file (repeatable)")->required()->allow_extra_args(false);
  nverify->callback([&] { rc = NoteVerify(proof_file, vkeys); });
  auto* nsign = note_cmd->add_subcommand(
      "sign", "sign a note text, or add a signature to a signed note (a cosigner key adds a cosignature/v1)");
  nsign->add_option("FILE", proof_file)->required();
  nsign->add_option("--key", key_file)->required();
  nsign->callback([&] { rc = NoteSign(proof_file, key_file); });

  cli::AddScanCommands(app, rc);
  cli::AddScandCommand(app, rc);
  cli::AddStatementCommands(app, rc);
  cli::AddNodeCommands(app, rc);
  cli::AddWitnessCommands(app, rc);
  cli::AddUpdateCommands(app, rc);

  // `--option=` with nothing after the '=': CLI11 would take the next argument as its value (a
  // path to scan as `--exclude-pua`'s category, unscanned and unsaid); clamscan's parser takes it
  // as an empty value, which it refuses. So an error, before anything runs.
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a.size() > 3 && a.starts_with("--") && a.find('=') == a.size() - 1) {
      std::cerr << "accord: " << a << " gives the option no value (put it after the '=')\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  } catch (const std::bad_alloc&) {  // a command's own thread ran out of memory: said, not a crash
    std::cerr << "accord: out of memory\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "accord: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return rc;
}
