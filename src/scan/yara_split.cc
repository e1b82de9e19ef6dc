#include "scan/yara_split.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace accord::scan {

namespace {

enum class Tok { kIdent, kNumber, kString, kRegex, kStrRef, kPunct };

struct Token {
  Tok kind;
  std::string_view text;
  size_t begin, end;
};

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9');
}

// Tokens of YARA source: enough to find rules, their braces and their conditions. Returns false
// on text YARA's own lexer would refuse in a way that could move a rule boundary (an unterminated
// string, regex or comment).
bool Lex(std::string_view s, std::vector<Token>* out) {
  size_t i = 0, n = s.size();
  auto push = [&](Tok k, size_t b, size_t e) { out->push_back({k, s.substr(b, e - b), b, e}); };
  while (i < n) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      while (i < n && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      size_t close = s.find("*/", i + 2);
      if (close == std::string_view::npos) return false;
      i = close + 2;
      continue;
    }
    size_t b = i;
    if (c == '"') {
      ++i;
      while (i < n && s[i] != '"') {
        if (s[i] == '\n') return false;
        i += (s[i] == '\\') ? 2 : 1;
      }
      if (i >= n) return false;
      push(Tok::kString, b, ++i);
      continue;
    }
    if (c == '/') {
      bool regex = !out->empty() && ((out->back().kind == Tok::kPunct && out->back().text == "=") ||
                                     (out->back().kind == Tok::kIdent && out->back().text == "matches"));
      if (regex) {
        ++i;
        while (i < n && s[i] != '/') {
          if (s[i] == '\n') return false;
          i += (s[i] == '\\') ? 2 : 1;
        }
        if (i >= n) return false;
        ++i;
        while (i < n && IsIdentChar(s[i])) ++i;  // flags
        push(Tok::kRegex, b, i);
        continue;
      }
    }
    if ((c == '$' || c == '#' || c == '@' || (c == '!' && !(i + 1 < n && s[i + 1] == '='))) &&
        !(c == '!' && !(i + 1 < n && IsIdentChar(s[i + 1])))) {
      ++i;
      while (i < n && IsIdentChar(s[i])) ++i;
      if (c == '$' && i < n && s[i] == '*') ++i;
      push(Tok::kStrRef, b, i);
      continue;
    }
    if (IsIdentStart(c)) {
      while (i < n && IsIdentChar(s[i])) ++i;
      push(Tok::kIdent, b, i);
      continue;
    }
    if (c >= '0' && c <= '9') {
      while (i < n && (IsIdentChar(s[i]) || (s[i] == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')))
        ++i;
      push(Tok::kNumber, b, i);
      continue;
    }
    static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "..", "<<", ">>"};
    bool two = false;
    for (auto t : kTwo)
      if (s.substr(i, 2) == t) two = true;
    i += two ? 2 : 1;
    push(Tok::kPunct, b, i);
  }
  return true;
}

bool Is(const Token& t, Tok k, std::string_view text) {
  return t.kind == k && t.text == text;
}

// YARA integer literals: decimal, 0x hex, 0o octal, with an optional KB or MB multiplier.
std::optional<uint64_t> ParseNumber(std::string_view t) {
  uint64_t mult = 1;
  if (t.size() > 2 && (t.ends_with("KB") || t.ends_with("MB"))) {
    mult = t.ends_with("KB") ? 1024 : 1024 * 1024;
    t.remove_suffix(2);
  }
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  } else if (t.size() > 2 && t[0] == '0' && t[1] == 'o') {
    base = 8;
    t.remove_prefix(2);
  }
  if (t.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : t) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return std::nullopt;
    if (d >= base || v > (UINT64_MAX - uint64_t(d)) / uint64_t(base)) return std::nullopt;
    v = v * uint64_t(base) + uint64_t(d);
  }
  if (v > UINT64_MAX / mult) return std::nullopt;
  return v * mult;
}

constexpr size_t kMaxGateMagics = 64;
constexpr int kMaxGateDepth = 64;

YaraGate Join(const YaraGate& a, const YaraGate& b) {  // a or b
  YaraGate g;
  g.max_size = std::max(a.max_size, b.max_size);
  if (a.magics && b.magics) {
    std::set<YaraMagic> all(a.magics->begin(), a.magics->end());
    all.insert(b.magics->begin(), b.magics->end());
    if (all.size() <= kMaxGateMagics) g.magics = std::vector<YaraMagic>(all.begin(), all.end());
  }
  return g;
}

YaraGate Meet(const YaraGate& a, const YaraGate& b) {  // a and b: either gate is necessary
  YaraGate g;
  g.max_size = std::min(a.max_size, b.max_size);
  if (a.magics && (!b.magics || a.magics->size() <= b.magics->size()))
    g.magics = a.magics;
  else
    g.magics = b.magics;
  return g;
}

using Span = std::vector<Token>;

// Splits [lo, hi) at the keyword `word` outside parentheses and brackets; false if they do not
// balance.
bool SplitAt(const Span& t, size_t lo, size_t hi, std::string_view word,
             std::vector<std::pair<size_t, size_t>>* parts) {
  int depth = 0;
  size_t start = lo;
  for (size_t i = lo; i < hi; ++i) {
    if (t[i].kind == Tok::kPunct && (t[i].text == "(" || t[i].text == "[")) ++depth;
    if (t[i].kind == Tok::kPunct && (t[i].text == ")" || t[i].text == "]")) {
      if (--depth < 0) return false;
    }
    if (depth == 0 && Is(t[i], Tok::kIdent, word)) {
      parts->push_back({start, i});
      start = i + 1;
    }
  }
  if (depth != 0) return false;
  parts->push_back({start, hi});
  return true;
}

std::optional<YaraMagic> MagicFunction(std::string_view f) {
  static constexpr std::tuple<std::string_view, uint8_t, bool> kFns[] = {
      {"uint8", 8, false},  {"uint16", 16, false},  {"uint32", 32, false},
      {"uint8be", 8, true}, {"uint16be", 16, true}, {"uint32be", 32, true}};
  for (auto [name, width, be] : kFns)
    if (f == name) return YaraMagic{width, be, 0};
  return std::nullopt;
}

YaraGate Gate(const Span& t, size_t lo, size_t hi, int depth) {
  YaraGate none;
  if (lo >= hi || depth > kMaxGateDepth) return none;
  std::vector<std::pair<size_t, size_t>> parts;
  if (!SplitAt(t, lo, hi, "or", &parts)) return none;
  if (parts.size() > 1) {
    YaraGate g = Gate(t, parts[0].first, parts[0].second, depth + 1);
    for (size_t i = 1; i < parts.size(); ++i)
      g = Join(g, Gate(t, parts[i].first, parts[i].second, depth + 1));
    return g;
  }
  parts.clear();
  SplitAt(t, lo, hi, "and", &parts);
  if (parts.size() > 1) {
    YaraGate g;
    for (const auto& [a, b] : parts) g = Meet(g, Gate(t, a, b, depth + 1));
    return g;
  }
  size_t n = hi - lo;
  const Token* x = &t[lo];
  if (Is(x[0], Tok::kPunct, "(") && Is(x[n - 1], Tok::kPunct, ")")) {
    int d = 0;
    bool encloses = true;
    for (size_t i = 0; i < n; ++i) {
      if (x[i].kind == Tok::kPunct && (x[i].text == "(" || x[i].text == "[")) ++d;
      if (x[i].kind == Tok::kPunct && (x[i].text == ")" || x[i].text == "]")) --d;
      if (d == 0 && i + 1 < n) encloses = false;
    }
    if (encloses) return Gate(t, lo + 1, hi - 1, depth + 1);
    return none;
  }
  // filesize < N, filesize <= N, N > filesize, N >= filesize
  if (n == 3) {
    const Token *f = nullptr, *num = nullptr;
    bool strict = false;
    if (Is(x[0], Tok::kIdent, "filesize") && x[2].kind == Tok::kNumber &&
        (Is(x[1], Tok::kPunct, "<") || Is(x[1], Tok::kPunct, "<="))) {
      f = &x[0], num = &x[2], strict = x[1].text == "<";
    } else if (Is(x[2], Tok::kIdent, "filesize") && x[0].kind == Tok::kNumber &&
               (Is(x[1], Tok::kPunct, ">") || Is(x[1], Tok::kPunct, ">="))) {
      f = &x[2], num = &x[0], strict = x[1].text == ">";
    }
    if (f) {
      std::optional<uint64_t> v = ParseNumber(num->text);
      if (!v) return none;
      YaraGate g;
      g.max_size = strict ? *v : (*v == UINT64_MAX ? UINT64_MAX : *v + 1);
      return g;
    }
  }
  // uintW[be](0) == V, V == uintW[be](0)
  if (n == 6) {
    size_t fn = 0, val = 5, eq = 4;
    if (x[0].kind == Tok::kNumber) fn = 2, val = 0, eq = 1;
    const Token* f = &x[fn];
    std::optional<YaraMagic> m = f->kind == Tok::kIdent ? MagicFunction(f->text) : std::nullopt;
    if (m && Is(x[fn + 1], Tok::kPunct, "(") && Is(x[fn + 2], Tok::kNumber, "0") &&
        Is(x[fn + 3], Tok::kPunct, ")") && Is(x[eq], Tok::kPunct, "==") && x[val].kind == Tok::kNumber) {
      std::optional<uint64_t> v = ParseNumber(x[val].text);
      if (!v) return none;
      m->value = *v;
      YaraGate g;
      g.magics = std::vector<YaraMagic>{*m};
      return g;
    }
  }
  return none;
}

YaraSplit Whole(YaraSplit split, std::string why) {
  split.keep_whole = std::move(why);
  for (auto& r : split.rules) r.gate = YaraGate{};
  return split;
}

}  // namespace

bool YaraMagic::operator<(const YaraMagic& o) const {
  return std::tie(width, big_endian, value) < std::tie(o.width, o.big_endian, o.value);
}

bool YaraMagic::Matches(std::string_view head) const {
  size_t bytes = width / 8;
  if (head.size() < bytes || bytes == 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) {
    uint64_t byte = static_cast<unsigned char>(head[big_endian ? i : bytes - 1 - i]);
    v = (v << 8) | byte;
  }
  return v == value;
}

bool YaraGate::Admits(uint64_t size, std::string_view head) const {
  if (size < min_size || size >= max_size) return false;
  if (!magics) return true;
  for (const YaraMagic& m : *magics)
    if (m.Matches(head)) return true;
  return false;
}

YaraGate YaraConditionGate(std::string_view condition) {
  std::vector<Token> t;
  if (!Lex(condition, &t)) return YaraGate{};
  return Gate(t, 0, t.size(), 0);
}

YaraSplit SplitYaraRules(std::string_view text) {
  YaraSplit split;
  std::vector<Token> t;
  if (!Lex(text, &t)) return Whole(std::move(split), "the lexer cannot follow the text");
  std::vector<std::pair<size_t, size_t>> conditions;  // token range of each rule's condition
  size_t i = 0;
  while (i < t.size()) {
    if (Is(t[i], Tok::kIdent, "import") && i + 1 < t.size() && t[i + 1].kind == Tok::kString) {
      i += 2;
      continue;
    }
    if (Is(t[i], Tok::kIdent, "include")) return Whole(std::move(split), "include");
    YaraRuleSpan rule;
    rule.begin = t[i].begin;
    while (i < t.size() && (Is(t[i], Tok::kIdent, "private") || Is(t[i], Tok::kIdent, "global"))) {
      if (t[i].text == "global") return Whole(std::move(split), "a global rule");
      ++i;
    }
    if (i + 1 >= t.size() || !Is(t[i], Tok::kIdent, "rule") || t[i + 1].kind != Tok::kIdent)
      return Whole(std::move(split), "unexpected text outside rules");
    rule.name = std::string(t[i + 1].text);
    i += 2;
    while (i < t.size() && !Is(t[i], Tok::kPunct, "{")) ++i;  // tags
    if (i >= t.size()) return Whole(std::move(split), "rule without a body");
    int depth = 0;
    size_t cond = 0;
    size_t close = i;
    for (; close < t.size(); ++close) {
      if (Is(t[close], Tok::kPunct, "{")) ++depth;
      if (Is(t[close], Tok::kPunct, "}") && --depth == 0) break;
      if (depth == 1 && Is(t[close], Tok::kIdent, "condition") && close + 1 < t.size() &&
          Is(t[close + 1], Tok::kPunct, ":"))
        cond = close + 2;
    }
    if (close >= t.size() || cond == 0 || cond > close)
      return Whole(std::move(split), "rule " + rule.name + " without an end or a condition");
    rule.end = t[close].end;
    rule.gate = Gate(t, cond, close, 0);
    conditions.push_back({cond, close});
    split.rules.push_back(std::move(rule));
    i = close + 1;
  }
  std::set<std::string_view> names;
  for (const auto& r : split.rules)
    if (!names.insert(r.name).second) return Whole(std::move(split), "two rules named " + r.name);
  for (const auto& [lo, hi] : conditions)
    for (size_t k = lo; k < hi; ++k)
      if (t[k].kind == Tok::kIdent && names.count(t[k].text))
        return Whole(std::move(split), "rules refer to rule " + std::string(t[k].text));
  return split;
}

std::string KeepOnlyRules(std::string_view text, const YaraSplit& split, const std::vector<size_t>& keep) {
  std::string out(text);
  std::vector<bool> kept(split.rules.size(), false);
  for (size_t k : keep)
    if (k < kept.size()) kept[k] = true;
  for (size_t r = 0; r < split.rules.size(); ++r) {
    if (kept[r]) continue;
    size_t end = std::min(split.rules[r].end, out.size());
    for (size_t i = split.rules[r].begin; i < end; ++i)
      if (out[i] != '\n') out[i] = ' ';
  }
  return out;
}

}  // namespace accord::scan
