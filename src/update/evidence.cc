#include "update/evidence.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "core/canonical_json.h"
#include "core/limits.h"
#include "scan/report.h"
#include "scan/tlsh.h"
#include "scan/yara_rules.h"
#include "statement/statement.h"
#include "tlog/log.h"
#include "tlog/merkle.h"
#include "tlog/proof_text.h"
#include "tlog/tile.h"
#include "update/provenance.h"
#include "update/signatures.h"

#ifndef ACCORD_VERSION
#define ACCORD_VERSION "0"
#endif

namespace accord::update {

namespace {

using json::Json;

bool IsLowerHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool IsKnownKind(std::string_view k) {
  return k == "md5" || k == "sha1" || k == "sha256" || k == "tlsh" || k == "yara";
}

size_t DigestLength(std::string_view kind) {
  return kind == "md5" ? 32 : kind == "sha1" ? 40 : 64;
}

// Strict reading of one JSON object: each member once, of its type, and none unknown.
class Members {
 public:
  Members(const Json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Status Object() const {
    if (!obj_.is_object()) return Err("is not an object");
    return Status::Ok();
  }
  Result<std::string> Str(const char* name, bool optional = false) {
    seen_.insert(name);
    auto it = obj_.find(name);
    if (it == obj_.end()) {
      if (optional) return std::string();
      return Err(std::string("lacks \"") + name + "\"");
    }
    if (!it->is_string()) return Err(std::string("\"") + name + "\" is not a string");
    return it->get<std::string>();
  }
  Result<std::optional<uint64_t>> Uint(const char* name, bool optional = false) {
    seen_.insert(name);
    auto it = obj_.find(name);
    if (it == obj_.end()) {
      if (optional) return std::optional<uint64_t>();
      return Err(std::string("lacks \"") + name + "\"");
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return Err(std::string("\"") + name + "\" is not a non-negative integer");
    return std::optional<uint64_t>(it->get<uint64_t>());
  }
  Result<const Json*> Array(const char* name) {
    seen_.insert(name);
    auto it = obj_.find(name);
    if (it == obj_.end()) return Err(std::string("lacks \"") + name + "\"");
    if (!it->is_array()) return Err(std::string("\"") + name + "\" is not an array");
    return &*it;
  }
  Result<const Json*> Obj(const char* name) {
    seen_.insert(name);
    auto it = obj_.find(name);
    if (it == obj_.end()) return Err(std::string("lacks \"") + name + "\"");
    if (!it->is_object()) return Err(std::string("\"") + name + "\" is not an object");
    return &*it;
  }
  Status NoOthers() const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it)
      if (!seen_.count(it.key())) return Err("has an unknown member \"" + Printable(it.key(), 40) + "\"");
    return Status::Ok();
  }
  Status Err(const std::string& what) const { return InvalidArgument("evidence: " + where_ + " " + what); }

 private:
  const Json& obj_;
  std::string where_;
  std::set<std::string> seen_;
};

Result<EvidenceDetection> ParseDetection(const Json& j, size_t i) {
  Members m(j, "detection " + std::to_string(i));
  RETURN_IF_ERROR(m.Object());
  EvidenceDetection d;
  ASSIGN_OR_RETURN(d.path, m.Str("path"));
  ASSIGN_OR_RETURN(d.signature, m.Str("signature"));
  ASSIGN_OR_RETURN(d.kind, m.Str("kind"));
  ASSIGN_OR_RETURN(d.item_sha256, m.Str("item_sha256", true));
  ASSIGN_OR_RETURN(d.digest, m.Str("digest", true));
  ASSIGN_OR_RETURN(std::optional<uint64_t> distance, m.Uint("distance", true));
  ASSIGN_OR_RETURN(std::optional<uint64_t> entry, m.Uint("entry"));
  ASSIGN_OR_RETURN(d.citation, m.Str("citation"));
  RETURN_IF_ERROR(m.NoOthers());
  d.entry = *entry;
  if (d.path.empty() || d.signature.empty()) return m.Err("has an empty path or signature");
  if (HasControl(d.path)) return m.Err("\"path\" holds a control character (paths are escaped)");
  if (!IsKnownKind(d.kind)) return m.Err("has an unknown kind \"" + Printable(d.kind, 20) + "\"");
  if (!d.item_sha256.empty() && !IsLowerHex(d.item_sha256, 64))
    return m.Err("\"item_sha256\" is not 64 lower-case hex digits");
  // A digest detection names what was hashed: the item's SHA-256 ties it to the file.
  if (d.kind != "yara" && d.item_sha256.empty()) return m.Err("lacks the item's SHA-256");
  if (d.kind == "tlsh") {
    if (!distance || *distance > scan::kTlshMaxDistance)
      return m.Err("\"distance\" is missing or out of range");
    if (!scan::ParseTlsh(d.digest) || d.digest.size() != 70) return m.Err("\"digest\" is not a TLSH digest");
    d.distance = uint32_t(*distance);
  } else {
    if (distance) return m.Err("has a \"distance\" but is not a TLSH detection");
    if (d.kind == "yara" ? !d.digest.empty() : !IsLowerHex(d.digest, DigestLength(d.kind)))
      return m.Err("\"digest\" does not fit its kind " + d.kind);
  }
  return d;
}

Result<EvidenceEntry> ParseEntry(const Json& j, size_t i) {
  Members m(j, "entry " + std::to_string(i));
  RETURN_IF_ERROR(m.Object());
  EvidenceEntry e;
  ASSIGN_OR_RETURN(std::optional<uint64_t> index, m.Uint("index"));
  ASSIGN_OR_RETURN(e.leaf, m.Str("leaf"));
  ASSIGN_OR_RETURN(e.proof, m.Str("proof"));
  RETURN_IF_ERROR(m.NoOthers());
  e.index = *index;
  if (e.leaf.empty() || e.leaf.size() > limits::kMaxEntrySize)
    return m.Err("\"leaf\" is empty or over 65,535 bytes");
  if (e.proof.size() > limits::kMaxProofFileSize) return m.Err("\"proof\" is too large");
  return e;
}

std::string B64(const tlog::Hash& h) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(h.data()), h.size()));
}

std::string KeyBytes(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

}  // namespace

Result<std::string> FormatEvidence(const Evidence& e) {
  Json j = Json::object();
  j["accord"] = std::string(kEvidenceFormat);
  j["generator"] = e.generator;
  j["created"] = e.created;
  j["file"] = Json{{"path", e.file_path}, {"size", e.file_size}, {"sha256", e.file_sha256}};
  Json dets = Json::array();
  for (const auto& d : e.detections) {
    Json o{{"path", d.path},
           {"signature", d.signature},
           {"kind", d.kind},
           {"entry", d.entry},
           {"citation", d.citation},
           {"digest", d.digest},
           {"item_sha256", d.item_sha256}};
    if (d.distance) o["distance"] = *d.distance;
    dets.push_back(std::move(o));
  }
  j["detections"] = std::move(dets);
  Json entries = Json::array();
  for (const auto& en : e.entries)
    entries.push_back(Json{{"index", en.index}, {"leaf", en.leaf}, {"proof", en.proof}});
  j["entries"] = std::move(entries);
  ASSIGN_OR_RETURN(std::string out, json::Serialize(j));
  out.push_back('\n');
  if (out.size() > limits::kMaxEvidenceSize)
    return ResourceExhausted("an evidence bundle of " + std::to_string(out.size()) +
                             " bytes, over the limit of " + std::to_string(limits::kMaxEvidenceSize) +
                             " (choose fewer detections)");
  return out;
}

Result<Evidence> ParseEvidence(ByteView text) {
  if (text.size() > limits::kMaxEvidenceSize)
    return ResourceExhausted("evidence of " + std::to_string(text.size()) + " bytes, over the limit of " +
                             std::to_string(limits::kMaxEvidenceSize));
  Result<Json> parsed = json::Parse(text, limits::kMaxEvidenceSize);
  if (!parsed.ok()) return parsed.status().WithContext("evidence");
  const Json& j = *parsed;
  Members top(j, "bundle");
  RETURN_IF_ERROR(top.Object());
  Evidence e;
  ASSIGN_OR_RETURN(std::string format, top.Str("accord"));
  if (format != kEvidenceFormat)
    return InvalidArgument("evidence: not an " + std::string(kEvidenceFormat) + " bundle (\"accord\": \"" +
                           Printable(format, 40) + "\")");
  ASSIGN_OR_RETURN(e.generator, top.Str("generator"));
  ASSIGN_OR_RETURN(e.created, top.Str("created"));
  ASSIGN_OR_RETURN(const Json* file, top.Obj("file"));
  ASSIGN_OR_RETURN(const Json* dets, top.Array("detections"));
  ASSIGN_OR_RETURN(const Json* entries, top.Array("entries"));
  RETURN_IF_ERROR(top.NoOthers());
  Members f(*file, "file");
  ASSIGN_OR_RETURN(e.file_path, f.Str("path"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> size, f.Uint("size"));
  ASSIGN_OR_RETURN(e.file_sha256, f.Str("sha256"));
  RETURN_IF_ERROR(f.NoOthers());
  e.file_size = *size;
  if (!IsLowerHex(e.file_sha256, 64)) return f.Err("\"sha256\" is not 64 lower-case hex digits");
  if (e.file_path.empty() || HasControl(e.file_path))
    return f.Err("\"path\" is empty or holds a control character (paths are escaped)");
  if (dets->empty()) return top.Err("has no detection");
  if (dets->size() > limits::kMaxEvidenceDetections)
    return ResourceExhausted("evidence: more than " + std::to_string(limits::kMaxEvidenceDetections) +
                             " detections");
  if (entries->size() > limits::kMaxEvidenceEntries)
    return ResourceExhausted("evidence: more than " + std::to_string(limits::kMaxEvidenceEntries) +
                             " entries");
  for (size_t i = 0; i < entries->size(); ++i) {
    ASSIGN_OR_RETURN(EvidenceEntry en, ParseEntry((*entries)[i], i));
    if (!e.entries.empty() && en.index <= e.entries.back().index)
      return InvalidArgument("evidence: entries are not in increasing index order at entry " +
                             std::to_string(i));
    e.entries.push_back(std::move(en));
  }
  for (size_t i = 0; i < dets->size(); ++i) {
    ASSIGN_OR_RETURN(EvidenceDetection d, ParseDetection((*dets)[i], i));
    if (d.path != e.file_path && d.path.compare(0, e.file_path.size() + 1, e.file_path + "!") != 0)
      return InvalidArgument("evidence: detection " + std::to_string(i) + " is about " + Displayable(d.path) +
                             ", which is neither the file nor inside it");
    // The file itself: what was hashed is the file whose SHA-256 the bundle names.
    if (d.path == e.file_path && !d.item_sha256.empty() && d.item_sha256 != e.file_sha256)
      return InvalidArgument("evidence: detection " + std::to_string(i) +
                             " is about the file itself but names another SHA-256 than the file's");
    bool present =
        std::any_of(e.entries.begin(), e.entries.end(), [&](const auto& en) { return en.index == d.entry; });
    if (!present)
      return InvalidArgument("evidence: detection " + std::to_string(i) + " cites entry " +
                             std::to_string(d.entry) + ", which the bundle does not hold");
    e.detections.push_back(std::move(d));
  }
  return e;
}

Result<Evidence> MakeEvidence(const scan::FileReport& report, const scan::Database& db,
                              const std::string& mirror_dir, int64_t now_unix_seconds) {
  if (db.provenance().empty())
    return FailedPrecondition(
        "the database was not built by `accord update` (no provenance): nothing to prove");
  ASSIGN_OR_RETURN(Provenance prov, ParseProvenance(db.provenance()));
  ASSIGN_OR_RETURN(tlog::Policy policy, tlog::ParsePolicy(prov.policy));
  Result<tlog::PolicyCheckpoint> pc = tlog::VerifyCheckpointWithPolicy(policy, prov.checkpoint);
  if (!pc.ok()) return pc.status().WithContext("the database's checkpoint");
  const tlog::Checkpoint& cp = pc->checkpoint.checkpoint;

  std::unordered_map<std::string_view, const scan::Source*> by_name;
  for (const scan::Source& s : db.sources())
    if (s.kind == uint32_t(scan::SourceKind::kLogEntry)) by_name.emplace(s.name, &s);

  Evidence e;
  e.generator = std::string("accord ") + ACCORD_VERSION;
  e.created = statement::FormatCreated(now_unix_seconds);
  e.file_path = scan::EscapePath(report.path);
  e.file_size = report.size;
  e.file_sha256 = report.sha256;
  std::set<uint64_t> indices;
  for (const scan::Finding& f : report.findings) {
    if (!f.cited) continue;
    auto it = by_name.find(f.source);
    if (it == by_name.end())
      return Internal("a cited finding whose source is not in the database: " + f.source);
    const scan::Source& s = *it->second;
    if (s.fields.size() < 5)
      return FailedPrecondition(
          "the database was built by an older accord, whose sources lack the author's registration: remove "
          "DB/scan.accdb and run `accord update` again");
    std::optional<uint64_t> index = FromBigEndian64(s.fields[1]);
    std::optional<uint64_t> registration = FromBigEndian64(s.fields[4]);
    if (!index || !registration || s.fields[0] != cp.origin || *index >= cp.size || *registration >= *index)
      return DataLoss("the database's source \"" + Printable(s.name, 80) + "\" does not fit its checkpoint");
    if (e.detections.size() == limits::kMaxEvidenceDetections)
      return ResourceExhausted("more than " + std::to_string(limits::kMaxEvidenceDetections) +
                               " detections in one file: too many for one bundle");
    EvidenceDetection d;
    d.path = scan::EscapePath(f.path);
    d.signature = f.name;
    d.kind = f.kind;
    d.item_sha256 = f.item_sha256;
    d.digest = f.kind == "yara" ? "" : f.item_digest;
    if (f.kind == "tlsh") d.distance = f.distance;
    d.entry = *index;
    d.citation = f.source;
    e.detections.push_back(std::move(d));
    indices.insert(*index);
    indices.insert(*registration);
  }
  if (e.detections.empty())
    return FailedPrecondition(scan::EscapePath(report.path) +
                              ": no detection from the log, nothing to prove");
  if (indices.size() > limits::kMaxEvidenceEntries)
    return ResourceExhausted("the detections involve more than " +
                             std::to_string(limits::kMaxEvidenceEntries) +
                             " log entries: too many for one bundle");

  tlog::DirTileReader reader(mirror_dir);
  tlog::TileHashSource hashes(reader, cp.size);
  for (uint64_t index : indices) {
    Result<Bytes> leaf = tlog::ReadEntry(reader, index, cp.size);
    if (!leaf.ok()) return DataLoss("the mirror " + mirror_dir + ": " + leaf.status().message());
    Result<std::vector<tlog::Hash>> proof = tlog::ProveInclusion(hashes, index, cp.size);
    if (!proof.ok()) return DataLoss("the mirror " + mirror_dir + ": " + proof.status().message());
    tlog::ProofText p;
    p.kind = tlog::ProofText::Kind::kInclusion;
    p.index = index;
    p.hashes = std::move(proof).value();
    p.checkpoint = prov.checkpoint;
    e.entries.push_back(EvidenceEntry{index, std::move(leaf).value(), tlog::FormatProof(p)});
  }
  // Never hand out evidence that does not verify: check it as a third party would.
  Result<EvidenceReport> check = VerifyEvidence(e, policy);
  if (!check.ok()) return check.status().WithContext("the evidence made from this database does not verify");
  return e;
}

Result<EvidenceReport> VerifyEvidence(const Evidence& e, const tlog::Policy& policy,
                                      const std::optional<std::string>& sample_path) {
  EvidenceReport out;
  if (e.entries.empty() || e.detections.empty()) return InvalidArgument("evidence: no detection or no entry");
  // The checkpoint: one for the whole bundle, checked against the verifier's policy.
  std::string checkpoint_text;
  tlog::Checkpoint cp;
  std::map<uint64_t, statement::SignedStatement> statements;
  for (const EvidenceEntry& en : e.entries) {
    const std::string where = "entry " + std::to_string(en.index);
    Result<tlog::ProofText> parsed = tlog::ParseProof(en.proof);
    if (!parsed.ok()) return parsed.status().WithContext("evidence: " + where + "'s proof");
    const tlog::ProofText& p = *parsed;
    if (p.kind != tlog::ProofText::Kind::kInclusion || p.checkpoint.empty())
      return InvalidArgument("evidence: " + where +
                             "'s proof is not a c2sp.org/tlog-proof@v1 inclusion proof");
    if (p.index != en.index)
      return InvalidArgument("evidence: " + where + "'s proof is for index " + std::to_string(p.index));
    if (checkpoint_text.empty()) {
      checkpoint_text = p.checkpoint;
      Result<tlog::PolicyCheckpoint> pc = tlog::VerifyCheckpointWithPolicy(policy, checkpoint_text);
      if (!pc.ok()) return pc.status().WithContext("evidence: the checkpoint, against your policy");
      cp = pc->checkpoint.checkpoint;
      out.origin = cp.origin;
      out.checkpoint_size = cp.size;
      out.root_hash = B64(cp.root);
      for (const auto& c : pc->cosignatures)
        out.cosigned.emplace_back(policy.witnesses[c.witness].name, c.timestamp);
    } else if (p.checkpoint != checkpoint_text) {
      return InvalidArgument("evidence: " + where +
                             "'s proof is against another checkpoint than the others'");
    }
    if (en.index >= out.checkpoint_size)
      return DataLoss("evidence: " + where + " is beyond the checkpoint's tree of " +
                      std::to_string(out.checkpoint_size));
    Status included =
        tlog::VerifyInclusion(en.index, cp.size, tlog::HashLeaf(en.leaf), p.hashes,
                              ByteView(reinterpret_cast<const char*>(cp.root.data()), cp.root.size()));
    if (!included.ok())
      return DataLoss("evidence: " + where + " is not in the checkpoint's tree: " + included.message());
    Result<statement::SignedStatement> s = statement::Parse(en.leaf);
    if (!s.ok()) return PermissionDenied("evidence: " + where + ": " + s.status().message());
    if (s->attested_by) {
      // A node attests only into its own log: the key must be the policy's key for this log.
      bool own = false;
      for (const tlog::PolicyLog& l : policy.logs)
        own = own || (l.key.name == cp.origin && l.key.public_key == *s->attested_by);
      if (!own)
        return PermissionDenied("evidence: " + where +
                                ": node-attested by a key that is not the log's key in your policy");
    }
    statements.emplace(en.index, std::move(s).value());
  }
  // Authors: each registration in the bundle, by key.
  std::unordered_map<std::string, uint64_t> registration_of;
  for (const auto& [index, s] : statements)
    if (s.statement.kind == statement::Kind::kRegistration)
      registration_of.emplace(KeyBytes(s.statement.author), index);

  for (const EvidenceDetection& d : e.detections) {
    const std::string where = "detection " + Displayable(d.signature) + " in " + d.path;
    auto it = statements.find(d.entry);
    if (it == statements.end())
      return InvalidArgument("evidence: " + where + " cites entry " + std::to_string(d.entry) +
                             ", which the bundle does not hold");
    const statement::Statement& st = it->second.statement;
    auto reg = registration_of.find(KeyBytes(st.author));
    if (reg == registration_of.end() || reg->second >= d.entry)
      return PermissionDenied("evidence: " + where + ": the bundle does not prove the author's registration");
    const statement::Statement& r = statements.at(reg->second).statement;
    VerifiedDetection v;
    v.detection = d;
    v.author_name = r.body.value("name", "");
    v.author_country = r.body.value("country", "");
    v.author_key = Base64Encode(KeyBytes(st.author));
    v.registration = reg->second;
    v.statement_created = st.created;
    v.attested = it->second.attested_by.has_value();
    const std::string cite =
        Citation(out.origin, d.entry, v.author_name, v.author_country, out.checkpoint_size);
    if (d.citation != cite)
      return PermissionDenied("evidence: " + where + ": the citation \"" + Printable(d.citation, 120) +
                              "\" is not what the log says (\"" + cite + "\")");
    // The statement must say what the detection claims.
    bool says = false;
    if (d.kind == "yara") {
      if (st.kind != statement::Kind::kYaraRule)
        return PermissionDenied("evidence: " + where + ": entry " + std::to_string(d.entry) +
                                " is not a yara-rule statement");
      if (!st.body.contains("source"))
        return PermissionDenied(
            "evidence: " + where + ": entry " + std::to_string(d.entry) +
            " keeps its rule's source beside the log (source_ref): the bundle cannot show it");
      for (const auto& n : st.body.at("rules")) says = says || n.get_ref<const std::string&>() == d.signature;
    } else if (d.kind == "tlsh") {
      if (st.kind != statement::Kind::kTlshSet)
        return PermissionDenied("evidence: " + where + ": entry " + std::to_string(d.entry) +
                                " is not a tlsh-set statement");
      std::optional<scan::TlshDigest> item = scan::ParseTlsh(d.digest);
      for (const auto& en : st.body.at("entries")) {
        if (en.at("name").get_ref<const std::string&>() != d.signature) continue;
        std::optional<scan::TlshDigest> sig = scan::ParseTlsh(en.at("tlsh").get_ref<const std::string&>());
        if (!item || !sig) continue;
        uint32_t dist = scan::TlshDistance(*item, *sig);
        says = says || (dist <= en.at("threshold").get<uint32_t>() && d.distance && dist == *d.distance);
      }
    } else {
      if (st.kind != statement::Kind::kHashSet)
        return PermissionDenied("evidence: " + where + ": entry " + std::to_string(d.entry) +
                                " is not a hash-set statement");
      if (d.kind == "sha256" && d.item_sha256 != d.digest)
        return PermissionDenied("evidence: " + where + ": the item's SHA-256 is not the digest that matched");
      for (const auto& en : st.body.at("entries"))
        says = says || (en.at("hash").get_ref<const std::string&>() == d.kind &&
                        en.at("name").get_ref<const std::string&>() == d.signature &&
                        en.at("digest").get_ref<const std::string&>() == d.digest);
    }
    if (!says)
      return PermissionDenied("evidence: " + where + ": entry " + std::to_string(d.entry) +
                              " does not list " +
                              (d.kind == "yara"   ? "that rule"
                               : d.kind == "tlsh" ? "a TLSH that close"
                                                  : "that digest") +
                              " under that name");
    out.detections.push_back(std::move(v));
  }
  if (!sample_path) return out;

  // The sample: is it the file, and does scanning it with only these statements find the same?
  scan::DatabaseBuilder builder;
  std::vector<scan::YaraRules::RuleSource> rules;
  std::set<uint64_t> loaded;
  for (const EvidenceDetection& d : e.detections) {
    if (!loaded.insert(d.entry).second) continue;
    const statement::Statement& st = statements.at(d.entry).statement;
    if (st.kind == statement::Kind::kYaraRule) {
      rules.push_back({d.citation, st.body.at("source").get<std::string>()});
      continue;
    }
    ASSIGN_OR_RETURN(uint32_t source,
                     builder.AddSource(scan::Source{uint32_t(scan::SourceKind::kLogEntry), d.citation, {}}));
    Result<size_t> added = st.kind == statement::Kind::kHashSet
                               ? AddHashSetSignatures(builder, source, st.body)
                               : AddTlshSetSignatures(builder, source, st.body);
    RETURN_IF_ERROR(added.status());
  }
  std::vector<std::shared_ptr<const scan::YaraRules>> yara;
  if (!rules.empty()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const scan::YaraRules> compiled, scan::YaraRules::CompileSources(rules));
    yara.push_back(std::move(compiled));
  }
  ASSIGN_OR_RETURN(Bytes image, builder.Build());
  ASSIGN_OR_RETURN(std::shared_ptr<const scan::Database> db,
                   scan::Database::OpenBytes(std::move(image), "evidence"));
  scan::Engine engine({db}, std::move(yara), scan::ScanOptions{});
  scan::Engine::WorkerPtr worker = engine.NewWorker();
  scan::FileReport again = engine.ScanFile(*worker, *sample_path);
  if (!again.error.empty()) return Unavailable("--file " + *sample_path + ": " + again.error);
  if (again.sha256 != e.file_sha256 || again.size != e.file_size)
    return PermissionDenied("evidence: " + *sample_path + " is not the file of this evidence (SHA-256 " +
                            (again.sha256.empty() ? "not computed" : again.sha256) + ", not " +
                            e.file_sha256 + ")");
  for (VerifiedDetection& v : out.detections) {
    const EvidenceDetection& d = v.detection;
    for (const scan::Finding& f : again.findings) {
      if (f.name != d.signature || f.kind != d.kind || f.source != d.citation) continue;
      // The same item, and the same digest or distance as claimed.
      if (!d.item_sha256.empty() && f.item_sha256 != d.item_sha256) continue;
      if (d.kind != "yara" && f.item_digest != d.digest) continue;
      if (d.kind == "tlsh" && f.distance != d.distance) continue;
      if (f.path.compare(0, sample_path->size(), *sample_path) != 0) continue;
      if (e.file_path + scan::EscapePath(f.path.substr(sample_path->size())) == d.path) v.reproduced = true;
    }
    if (!v.reproduced)
      return NotFound("evidence: scanning " + *sample_path + " with the bundle's statements does not find " +
                      Displayable(d.signature) + " in " + d.path +
                      " as claimed (a YARA rule may depend on the file's name or path: give the sample its "
                      "original name)");
  }
  out.sample_checked = true;
  return out;
}

}  // namespace accord::update
