#include "tlog/policy.h"

#include <algorithm>
#include <map>

#include "core/limits.h"

namespace accord::tlog {
namespace {

constexpr std::string_view kNone = "none";

bool IsPolicySpace(char c) {
  return c == ' ' || c == '\t';
}

// Tab, newline, printable ASCII and any octet with the high bit set (c2sp.org/tlog-policy,
// "Character set"); newlines never reach this.
bool IsAllowedOctet(char c) {
  uint8_t u = uint8_t(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

std::vector<std::string_view> Tokens(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsPolicySpace(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsPolicySpace(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

class Parser {
 public:
  Result<Policy> Parse(ByteView text) {
    if (text.size() > limits::kMaxPolicySize)
      return ResourceExhausted("policy: " + std::to_string(text.size()) + " bytes, over the limit of " +
                               std::to_string(limits::kMaxPolicySize));
    bool seen_quorum = false;
    while (!text.empty()) {
      ++line_no_;
      size_t nl = text.find('\n');
      if (nl == std::string_view::npos) return Error("does not end in a newline");
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl + 1);
      for (char c : line)
        if (!IsAllowedOctet(c)) return Error("control character " + Printable(std::string(1, c)));
      std::vector<std::string_view> t = Tokens(line);
      if (t.empty() || t[0][0] == '#') continue;
      if (t[0] == "log") {
        RETURN_IF_ERROR(Log(t));
      } else if (t[0] == "witness") {
        RETURN_IF_ERROR(Witness(t));
      } else if (t[0] == "group") {
        RETURN_IF_ERROR(Group(t));
      } else if (t[0] == "quorum") {
        if (seen_quorum) return Error("a second quorum line; a policy has exactly one");
        if (t.size() != 2) return Error("want \"quorum <name>\"");
        seen_quorum = true;
        if (t[1] != kNone) {
          ASSIGN_OR_RETURN(p_.quorum, Lookup(t[1]));
        }
      } else {
        return Error("unknown keyword \"" + Printable(t[0]) + "\" (want log, witness, group or quorum)");
      }
    }
    if (!seen_quorum)
      return InvalidArgument("policy: no quorum line (\"quorum none\" asks for no cosignature)");
    return std::move(p_);
  }

 private:
  Status Error(std::string what) const {
    return InvalidArgument("policy line " + std::to_string(line_no_) + ": " + what);
  }

  // Room for one more of `what`, of which there are `count` already?
  Status Room(size_t count, size_t limit, std::string_view what) const {
    if (count < limit) return Status::Ok();
    return ResourceExhausted("policy line " + std::to_string(line_no_) + ": more than " +
                             std::to_string(limit) + " " + std::string(what));
  }

  Result<note::Verifier> Key(std::string_view vkey, note::KeyType want, std::string_view role) {
    Result<note::Verifier> v = note::ParseVerifierKey(vkey);
    if (!v.ok()) return Error(v.status().message());
    if (v->type != want)
      return Error(std::string(role) + " key " + v->name + " has type " + std::to_string(int(v->type)) +
                   ", want " + std::to_string(int(want)) +
                   (want == note::KeyType::kEd25519 ? " (Ed25519)" : " (cosignature/v1)"));
    return v;
  }

  Status Log(const std::vector<std::string_view>& t) {
    if (t.size() < 2 || t.size() > 3) return Error("want \"log <vkey> [<url>]\"");
    RETURN_IF_ERROR(Room(p_.logs.size(), limits::kMaxPolicyLogs, "logs"));
    ASSIGN_OR_RETURN(note::Verifier key, Key(t[1], note::KeyType::kEd25519, "log"));
    for (const PolicyLog& l : p_.logs)
      if (l.key.public_key == key.public_key)
        return Error("log " + key.name + " has the public key of log " + l.key.name + " again");
    p_.logs.push_back({std::move(key), t.size() == 3 ? std::string(t[2]) : std::string()});
    return Status::Ok();
  }

  Status NewName(std::string_view name) {
    if (name == kNone) return Error("\"none\" is reserved and cannot name a witness or group");
    if (names_.count(std::string(name))) return Error("\"" + Printable(name) + "\" is defined twice");
    return Status::Ok();
  }

  Status Witness(const std::vector<std::string_view>& t) {
    if (t.size() < 3 || t.size() > 4) return Error("want \"witness <name> <vkey> [<url>]\"");
    RETURN_IF_ERROR(Room(p_.witnesses.size(), limits::kMaxPolicyWitnesses, "witnesses"));
    RETURN_IF_ERROR(NewName(t[1]));
    ASSIGN_OR_RETURN(note::Verifier key, Key(t[2], note::KeyType::kCosignatureV1, "witness"));
    for (const PolicyWitness& w : p_.witnesses)
      if (w.key.public_key == key.public_key)
        return Error("witness " + Printable(t[1]) + " has the public key of witness " + Printable(w.name));
    names_[std::string(t[1])] = {PolicyRef::Kind::kWitness, p_.witnesses.size()};
    p_.witnesses.push_back({std::string(t[1]), std::move(key), t.size() == 4 ? std::string(t[3]) : ""});
    return Status::Ok();
  }

  Status Group(const std::vector<std::string_view>& t) {
    if (t.size() < 4) return Error("want \"group <name> all|any|<k> <name>...\" with at least one member");
    RETURN_IF_ERROR(Room(p_.groups.size(), limits::kMaxPolicyGroups, "groups"));
    RETURN_IF_ERROR(NewName(t[1]));
    PolicyGroup g;
    g.name = std::string(t[1]);
    size_t n = t.size() - 3;
    if (t[2] == "all") {
      g.spelling = PolicyGroup::Spelling::kAll;
      g.threshold = n;
    } else if (t[2] == "any") {
      g.spelling = PolicyGroup::Spelling::kAny;
      g.threshold = 1;
    } else {
      std::optional<uint64_t> k = ParseDecimal(t[2]);
      if (!k) return Error("threshold \"" + Printable(t[2]) + "\": want all, any or a decimal number");
      if (*k < 1 || *k > n)
        return Error("threshold " + std::string(t[2]) + " of " + std::to_string(n) +
                     " members: want 1 <= k <= n");
      g.threshold = size_t(*k);
    }
    for (size_t i = 3; i < t.size(); ++i) {
      if (t[i] == kNone) return Error("\"none\" cannot be a group member");
      ASSIGN_OR_RETURN(PolicyRef ref, Lookup(t[i]));
      for (const PolicyRef& m : g.members)
        if (m == ref) return Error("\"" + Printable(t[i]) + "\" is a member of group " + g.name + " twice");
      g.members.push_back(ref);
    }
    names_[g.name] = {PolicyRef::Kind::kGroup, p_.groups.size()};
    p_.groups.push_back(std::move(g));
    return Status::Ok();
  }

  Result<PolicyRef> Lookup(std::string_view name) const {
    auto it = names_.find(std::string(name));
    if (it == names_.end())
      return Error("\"" + Printable(name) + "\" is not a witness or group defined on an earlier line");
    return it->second;
  }

  Policy p_;
  std::map<std::string, PolicyRef> names_;
  size_t line_no_ = 0;
};

std::string_view RefName(const Policy& p, const PolicyRef& r) {
  return r.kind == PolicyRef::Kind::kWitness ? p.witnesses[r.index].name : p.groups[r.index].name;
}

}  // namespace

bool IsValidPolicyName(std::string_view name) {
  return !name.empty() && name != kNone &&
         std::all_of(name.begin(), name.end(), [](char c) { return IsAllowedOctet(c) && !IsPolicySpace(c); });
}

Result<Policy> ParsePolicy(ByteView text) {
  return Parser().Parse(text);
}

std::string FormatWitnessLine(const PolicyWitness& w) {
  std::string out = "witness " + w.name + " " + note::FormatVerifierKey(w.key);
  if (!w.url.empty()) out += " " + w.url;
  return out + "\n";
}

std::string FormatPolicy(const Policy& p) {
  std::string out;
  for (const PolicyLog& l : p.logs) {
    out += "log " + note::FormatVerifierKey(l.key);
    if (!l.url.empty()) out += " " + l.url;
    out += "\n";
  }
  for (const PolicyWitness& w : p.witnesses) out += FormatWitnessLine(w);
  for (const PolicyGroup& g : p.groups) {
    out += "group " + g.name + " ";
    out += g.spelling == PolicyGroup::Spelling::kAll   ? std::string("all")
           : g.spelling == PolicyGroup::Spelling::kAny ? std::string("any")
                                                       : std::to_string(g.threshold);
    for (const PolicyRef& m : g.members) out += " " + std::string(RefName(p, m));
    out += "\n";
  }
  out += "quorum " + (p.quorum ? std::string(RefName(p, *p.quorum)) : std::string(kNone)) + "\n";
  return out;
}

Status CheckQuorum(const Policy& p, const std::vector<bool>& cosigned) {
  if (cosigned.size() != p.witnesses.size())
    return InvalidArgument("quorum: " + std::to_string(cosigned.size()) + " flags for " +
                           std::to_string(p.witnesses.size()) + " witnesses");
  if (!p.quorum) return Status::Ok();
  // Groups only name earlier groups, so one pass in file order evaluates them all.
  std::vector<size_t> met_count(p.groups.size(), 0);
  auto met = [&](const PolicyRef& r) {
    return r.kind == PolicyRef::Kind::kWitness ? bool(cosigned[r.index])
                                               : met_count[r.index] >= p.groups[r.index].threshold;
  };
  for (size_t i = 0; i < p.groups.size(); ++i)
    for (const PolicyRef& m : p.groups[i].members) met_count[i] += met(m) ? 1 : 0;
  const PolicyRef& q = *p.quorum;
  if (met(q)) return Status::Ok();
  if (q.kind == PolicyRef::Kind::kWitness)
    return PermissionDenied("quorum not met: witness " + p.witnesses[q.index].name + " did not cosign");
  const PolicyGroup& g = p.groups[q.index];
  std::string missing;
  for (const PolicyRef& m : g.members) {
    if (met(m)) continue;
    if (!missing.empty()) missing += ", ";
    missing += RefName(p, m);
    if (m.kind == PolicyRef::Kind::kGroup)
      missing += " (" + std::to_string(met_count[m.index]) + " of " +
                 std::to_string(p.groups[m.index].threshold) + ")";
  }
  return PermissionDenied("quorum not met: group " + g.name + ": " + std::to_string(met_count[q.index]) +
                          " of the " + std::to_string(g.threshold) + " of its " +
                          std::to_string(g.members.size()) + " members it needs (not met: " + missing + ")");
}

Result<PolicyCheckpoint> VerifyCheckpointWithPolicy(const Policy& p, ByteView signed_note) {
  Result<note::Note> parsed = note::ParseNote(signed_note);
  if (!parsed.ok()) return parsed.status().WithContext("checkpoint");
  ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(parsed->text));
  std::vector<note::Verifier> known;
  std::vector<size_t> log_index;
  for (size_t i = 0; i < p.logs.size(); ++i) {
    if (p.logs[i].key.name != cp.origin) continue;
    known.push_back(p.logs[i].key);
    log_index.push_back(i);
  }
  if (known.empty())
    return NotFound("checkpoint: origin \"" + Printable(cp.origin) + "\" is not a log of the policy");
  size_t nlogs = known.size();
  for (const PolicyWitness& w : p.witnesses) known.push_back(w.key);
  Result<note::OpenedNote> opened = note::Open(signed_note, known);
  if (!opened.ok()) return opened.status().WithContext("checkpoint");
  PolicyCheckpoint out;
  std::optional<size_t> log;
  std::vector<bool> cosigned(p.witnesses.size(), false);
  for (const note::VerifiedSignature& v : opened->verified) {
    if (v.verifier < nlogs) {
      if (!log) log = log_index[v.verifier];
      continue;
    }
    size_t w = v.verifier - nlogs;
    cosigned[w] = true;
    out.cosignatures.push_back({w, v.timestamp});
    out.checkpoint.cosignatures.push_back({p.witnesses[w].key.name, v.timestamp});
  }
  if (!log) return PermissionDenied("checkpoint: not signed by the policy's key for " + cp.origin);
  out.log = *log;
  Status quorum = CheckQuorum(p, cosigned);
  if (!quorum.ok())
    return quorum.WithContext("checkpoint " + cp.origin + " at size " + std::to_string(cp.size));
  out.checkpoint.checkpoint = std::move(cp);
  out.checkpoint.raw = std::string(signed_note);
  return out;
}

Status CheckFreshQuorum(const Policy& policy, const PolicyCheckpoint& checkpoint, uint64_t now,
                        uint64_t max_age) {
  const uint64_t not_before = now > max_age ? now - max_age : 0, not_after = now + limits::kMaxClockSkew;
  std::vector<bool> fresh(policy.witnesses.size(), false);
  std::optional<uint64_t> newest;
  for (const PolicyCosignature& c : checkpoint.cosignatures) {
    if (c.witness >= fresh.size()) return InvalidArgument("freshness: a cosignature by no policy witness");
    if (c.timestamp >= not_before && c.timestamp <= not_after) fresh[c.witness] = true;
    if (c.timestamp <= not_after) newest = std::max(newest.value_or(0), c.timestamp);
  }
  if (!policy.quorum) return Status::Ok();
  Status s = CheckQuorum(policy, fresh);
  if (s.ok()) return s;
  const auto& cp = checkpoint.checkpoint.checkpoint;
  std::string age = !newest ? "no cosignature"
                    : *newest >= now
                        ? "its newest cosignature is from now"
                        : "its newest cosignature is " + std::to_string(now - *newest) + " s old";
  return PermissionDenied("checkpoint " + cp.origin + " at size " + std::to_string(cp.size) +
                          " is not fresh: " + age + ", and those of the last " + std::to_string(max_age) +
                          " s do not meet the quorum (" + s.message() + ")");
}

}  // namespace accord::tlog
