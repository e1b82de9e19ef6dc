#include "scan/yara_split.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "core/bytes.h"

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
    if (c == '/') {  // not a comment: a regex wherever it appears (YARA divides with '\\')
      ++i;
      while (i < n && s[i] != '/') {
        if (s[i] == '\n') return false;
        i += (s[i] == '\\') ? 2 : 1;
      }
      if (i >= n) return false;
      ++i;
      while (i < n && (s[i] == 'i' || s[i] == 's')) ++i;  // flags: `/x/or` is a regex, then `or`
      push(Tok::kRegex, b, i);
      continue;
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
      // As YARA's lexer reads them: decimal (with one fraction), 0x hex or 0o octal, then KB or
      // MB; nothing more (`2or` is the number 2, then `or`).
      auto dec = [](char d) { return d >= '0' && d <= '9'; };
      auto hex = [](char d) { return std::isxdigit(static_cast<unsigned char>(d)) != 0; };
      auto oct = [](char d) { return d >= '0' && d <= '7'; };
      if (c == '0' && i + 2 < n && (s[i + 1] == 'x' || s[i + 1] == 'X') && hex(s[i + 2])) {
        for (i += 2; i < n && hex(s[i]);) ++i;
      } else if (c == '0' && i + 2 < n && s[i + 1] == 'o' && oct(s[i + 2])) {
        for (i += 2; i < n && oct(s[i]);) ++i;
      } else {
        while (i < n && dec(s[i])) ++i;
        if (i + 1 < n && s[i] == '.' && dec(s[i + 1]))
          for (++i; i < n && dec(s[i]);) ++i;
      }
      if (s.substr(i, 2) == "KB" || s.substr(i, 2) == "MB") i += 2;
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

// libyara's pe module finds a program only in data that starts with "MZ" (pe_get_header checks
// the DOS header's e_magic first); on any other data it sets nothing but its upper-case constants
// and `is_pe` (to 0), so every other field is undefined and every function returns undefined.
constexpr YaraMagic kPeMagic{16, false, 0x5a4d};

bool IsConstantName(std::string_view id) {
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// True if the conjunct x[0, n) (no `and`/`or` outside brackets) is false on data that is not a PE
// program: it is `pe.is_pe` alone, or an expression of operands and operators that propagate
// undefined (comparisons, arithmetic, bitwise and string operators) with at least one operand a
// pe field or function other than an upper-case constant or `is_pe`. libyara evaluates such an expression to
// undefined when the pe module found no program, and an undefined conjunct makes the rule false.
// Anything that can turn undefined into a value (`not`, `defined`, `of`, `for`, string counts and
// offsets, other modules, identifiers that may be rules or externals) makes it false here.
// One element of an expression that propagates undefined: a literal, an operator that propagates
// undefined, or a pe operand (pe.name then any of .name, [..], (..)). Sets *end past it and
// *pe_field to the operand's first field name (empty for literals and operators); false if x[i]
// starts none of them (or a pe operand's brackets do not close before n).
bool ExpressionElement(const Token* x, size_t n, size_t i, size_t* end, std::string_view* pe_field) {
  static constexpr std::string_view kOperators[] = {"==", "!=", "<", "<=", ">", ">=", "+",  "-", "*",
                                                    "\\", "%",  "&", "|",  "^", "<<", ">>", "~"};
  static constexpr std::string_view kStringOperators[] = {
      "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iequals", "matches"};
  const Token& k = x[i];
  *pe_field = {};
  *end = i + 1;
  if (k.kind == Tok::kNumber || k.kind == Tok::kString || k.kind == Tok::kRegex) return true;
  if (k.kind == Tok::kPunct &&
      std::find(std::begin(kOperators), std::end(kOperators), k.text) != std::end(kOperators))
    return true;
  if (k.kind == Tok::kIdent && std::find(std::begin(kStringOperators), std::end(kStringOperators), k.text) !=
                                   std::end(kStringOperators))
    return true;
  if (!Is(k, Tok::kIdent, "pe") || i + 2 >= n || !Is(x[i + 1], Tok::kPunct, ".") ||
      x[i + 2].kind != Tok::kIdent)
    return false;
  *pe_field = x[i + 2].text;
  i += 3;
  while (i < n) {
    if (Is(x[i], Tok::kPunct, ".") && i + 1 < n && x[i + 1].kind == Tok::kIdent) {
      i += 2;
    } else if (Is(x[i], Tok::kPunct, "[") || Is(x[i], Tok::kPunct, "(")) {
      int d = 0;
      for (; i < n; ++i) {
        if (x[i].kind == Tok::kPunct && (x[i].text == "(" || x[i].text == "[")) ++d;
        if (x[i].kind == Tok::kPunct && (x[i].text == ")" || x[i].text == "]") && --d == 0) break;
      }
      if (i >= n) return false;
      ++i;
    } else {
      break;
    }
  }
  *end = i;
  return true;
}

// A pe field that is undefined when the pe module found no program.
bool DynamicPeField(std::string_view field) {
  return !field.empty() && !IsConstantName(field) && field != "is_pe";
}

bool NeedsPe(const Token* x, size_t n) {
  if (n == 3 && Is(x[0], Tok::kIdent, "pe") && Is(x[1], Tok::kPunct, ".") && Is(x[2], Tok::kIdent, "is_pe"))
    return true;
  bool dynamic = false;
  for (size_t i = 0; i < n;) {
    size_t end;
    std::string_view field;
    if (!ExpressionElement(x, n, i, &end, &field)) return false;
    dynamic = dynamic || DynamicPeField(field);
    i = end;
  }
  return dynamic;
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
  if (NeedsPe(x, n)) {
    YaraGate g;
    g.magics = std::vector<YaraMagic>{kPeMagic};
    return g;
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

// ---- Literals and needs (YaraRuleSpan::needs) ----

// The longest of the runs a scan of the pattern cuts: Add extends the current run, Cut ends it.
struct Runs {
  std::string best, cur;
  void Add(char c) { cur.push_back(c); }
  void Cut() {
    if (cur.size() > best.size()) best = cur;
    cur.clear();
  }
  void Offer(const std::string& s) {
    Cut();
    if (s.size() > best.size()) best = s;
  }
};

// A regular expression's quantifier at s[*i], if any: consumes it (and a lazy `?` after it) and
// sets *min to its least count. False (and *i unchanged) if there is none; *bad if it is malformed.
bool Quantifier(std::string_view s, size_t* i, uint64_t* min, bool* bad) {
  size_t k = *i;
  if (k >= s.size()) return false;
  char c = s[k];
  if (c == '*' || c == '?') {
    *min = 0;
    ++k;
  } else if (c == '+') {
    *min = 1;
    ++k;
  } else if (c == '{') {
    size_t close = s.find('}', k);
    if (close == std::string_view::npos) return *bad = true, false;
    std::string_view body = s.substr(k + 1, close - k - 1);
    size_t comma = body.find(',');
    std::string_view lo = body.substr(0, comma);
    if (body.empty() || lo.size() > 9) return *bad = true, false;
    for (char d : body)
      if (!(d >= '0' && d <= '9') && d != ',') return *bad = true, false;
    if (comma != std::string_view::npos && body.find(',', comma + 1) != std::string_view::npos)
      return *bad = true, false;
    *min = 0;
    for (char d : lo) *min = *min * 10 + uint64_t(d - '0');
    k = close + 1;
  } else {
    return false;
  }
  if (k < s.size() && s[k] == '?') ++k;  // lazy
  *i = k;
  return true;
}

// A sequence of a regular expression from s[*i] to the `)` that closes it (depth > 0) or the end:
// its necessary runs into `runs`. Sets *alternation if a `|` stands in it at its own level; false
// on anything it does not know (then the pattern has no literal).
bool RegexSequence(std::string_view s, size_t* i, int depth, Runs* runs, bool* alternation) {
  while (*i < s.size()) {
    char c = s[*i];
    if (c == ')') {
      if (depth == 0) return false;
      return true;  // the caller consumes it
    }
    if (c == '|') {
      *alternation = true;
      runs->Cut();
      ++*i;
      continue;
    }
    std::optional<char> literal;
    if (c == '(') {
      if (depth >= 32 || (*i + 1 < s.size() && s[*i + 1] == '?')) return false;
      ++*i;
      Runs inner;
      bool alt = false;
      if (!RegexSequence(s, i, depth + 1, &inner, &alt) || *i >= s.size() || s[*i] != ')') return false;
      ++*i;
      inner.Cut();
      uint64_t min = 1;
      bool bad = false;
      if (!Quantifier(s, i, &min, &bad) && bad) return false;
      runs->Cut();
      if (!alt && min > 0) runs->Offer(inner.best);
      continue;
    }
    if (c == '[') {
      size_t k = *i + 1;
      if (k < s.size() && s[k] == '^') ++k;
      if (k < s.size() && s[k] == ']') ++k;
      while (k < s.size() && s[k] != ']') k += (s[k] == '\\') ? 2 : 1;
      if (k >= s.size()) return false;
      *i = k + 1;
    } else if (c == '\\') {
      if (*i + 1 >= s.size()) return false;
      char e = s[*i + 1];
      *i += 2;
      if (e == 'x') {
        if (*i + 1 >= s.size() || HexDigitValue(s[*i]) < 0 || HexDigitValue(s[*i + 1]) < 0) return false;
        literal = char(HexDigitValue(s[*i]) * 16 + HexDigitValue(s[*i + 1]));
        *i += 2;
      } else if (e == 'n' || e == 't' || e == 'r' || e == 'f' || e == 'a') {
        literal = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'f' ? '\f' : '\a';
      } else if (std::string_view("wWsSdDbB").find(e) != std::string_view::npos) {
        // a class or an assertion
      } else if (std::isalnum(static_cast<unsigned char>(e))) {
        return false;
      } else {
        literal = e;
      }
    } else if (c == '.' || c == '^' || c == '$') {
      ++*i;
    } else if (c == '*' || c == '+' || c == '?' || c == '{' || c == ']' || c == '}') {
      return false;  // a quantifier with nothing before it, or a stray bracket
    } else {
      literal = c;
      ++*i;
    }
    uint64_t min = 1;
    bool bad = false;
    bool quantified = Quantifier(s, i, &min, &bad);
    if (bad) return false;
    if (!literal) {
      runs->Cut();
      continue;
    }
    if (quantified && min == 0) {
      runs->Cut();
      continue;
    }
    runs->Add(*literal);
    if (quantified) runs->Cut();
  }
  return depth == 0;
}

// YARA text string escapes: \" \\ \t \n \r \xHH. nullopt on any other.
std::optional<std::string> Unescape(std::string_view quoted) {
  if (quoted.size() < 2) return std::nullopt;
  std::string_view s = quoted.substr(1, quoted.size() - 2);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    static constexpr std::string_view kEscaped = "\"\\tnr", kMeans = "\"\\\t\n\r";
    if (s[i] == 'x') {
      if (i + 2 >= s.size() || HexDigitValue(s[i + 1]) < 0 || HexDigitValue(s[i + 2]) < 0)
        return std::nullopt;
      out.push_back(char(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2])));
      i += 2;
    } else if (size_t k = kEscaped.find(s[i]); k != std::string_view::npos) {
      out.push_back(kMeans[k]);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string Widen(std::string_view s) {
  std::string out;
  for (char c : s) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The characters of the base64 text of `plain` preceded by `align` (0-2) unknown bytes that do not
// depend on the bytes before or after it: those whose six bits all come from `plain` (libyara's
// base64 modifier searches for exactly these, for each alignment).
std::string Base64Determined(std::string_view plain, int align, std::string_view alphabet) {
  const size_t bits = 8 * (size_t(align) + plain.size());
  std::string out;
  for (size_t j = (8 * size_t(align) + 5) / 6; 6 * j + 6 <= bits; ++j) {
    unsigned v = 0;
    for (size_t b = 6 * j; b < 6 * j + 6; ++b) {
      const size_t byte = b / 8 - size_t(align);  // b >= 8 * align: a byte of plain
      v = v << 1 | ((static_cast<unsigned char>(plain[byte]) >> (7 - b % 8)) & 1);
    }
    out.push_back(alphabet[v]);
  }
  return out;
}

struct StringDef {
  std::string_view id;            // without the '$'; "" for an anonymous string
  std::vector<YaraLiteral> lits;  // one of them occurs wherever the string matches; empty: none known
  size_t strength = 0;            // the literal's bytes other than zeros (0: none)
};

// The strings of a rule, from the tokens [lo, hi) of its strings section; nullopt if it cannot
// follow them.
std::optional<std::vector<StringDef>> ParseStrings(std::string_view text, const std::vector<Token>& t,
                                                   size_t lo, size_t hi) {
  std::vector<StringDef> out;
  size_t i = lo;
  while (i < hi) {
    if (t[i].kind != Tok::kStrRef || t[i].text[0] != '$' || t[i].text.ends_with('*') || i + 2 >= hi ||
        !Is(t[i + 1], Tok::kPunct, "="))
      return std::nullopt;
    StringDef d;
    d.id = t[i].text.substr(1);
    i += 2;
    std::string lit;
    bool caseless = false;
    if (t[i].kind == Tok::kString) {
      lit = Unescape(t[i].text).value_or("");
      ++i;
    } else if (t[i].kind == Tok::kRegex) {
      std::string_view r = t[i].text;
      size_t close = r.rfind('/');
      if (close == 0) return std::nullopt;
      caseless = r.substr(close).find('i') != std::string_view::npos;
      lit = RegexLiteral(r.substr(1, close - 1));
      ++i;
    } else if (Is(t[i], Tok::kPunct, "{")) {
      size_t j = i + 1;
      while (j < hi && !Is(t[j], Tok::kPunct, "}")) ++j;
      if (j >= hi) return std::nullopt;
      lit = HexStringLiteral(text.substr(t[i].end, t[j].begin - t[i].end));
      i = j + 1;
    } else {
      return std::nullopt;
    }
    bool ascii = false, wide = false, known = true, base64 = false, base64wide = false;
    int xor_lo = -1, xor_hi = -1;  // the keys of `xor` (-1: none)
    std::string alphabet(kBase64Alphabet);
    for (; i < hi && !(t[i].kind == Tok::kStrRef && t[i].text[0] == '$'); ++i) {
      if (Is(t[i], Tok::kIdent, "ascii")) {
        ascii = true;
      } else if (Is(t[i], Tok::kIdent, "wide")) {
        wide = true;
      } else if (Is(t[i], Tok::kIdent, "nocase")) {
        caseless = true;
      } else if (Is(t[i], Tok::kIdent, "xor")) {  // xor, xor(K), xor(A-B): keys 0-255, K, A to B
        xor_lo = 0, xor_hi = 255;
        if (i + 1 < hi && Is(t[i + 1], Tok::kPunct, "(")) {
          std::optional<uint64_t> a, b;
          if (i + 3 < hi && t[i + 2].kind == Tok::kNumber && Is(t[i + 3], Tok::kPunct, ")")) {
            a = b = ParseNumber(t[i + 2].text);
            i += 3;
          } else if (i + 5 < hi && t[i + 2].kind == Tok::kNumber && Is(t[i + 3], Tok::kPunct, "-") &&
                     t[i + 4].kind == Tok::kNumber && Is(t[i + 5], Tok::kPunct, ")")) {
            a = ParseNumber(t[i + 2].text), b = ParseNumber(t[i + 4].text);
            i += 5;
          }
          known = known && a && b && *a <= *b && *b <= 255;
          if (known) xor_lo = int(*a), xor_hi = int(*b);
        }
      } else if (Is(t[i], Tok::kIdent, "base64") || Is(t[i], Tok::kIdent, "base64wide")) {
        (t[i].text == "base64" ? base64 : base64wide) = true;
        if (i + 1 < hi && Is(t[i + 1], Tok::kPunct, "(")) {  // base64("64-character alphabet")
          std::optional<std::string> a;
          if (i + 3 < hi && t[i + 2].kind == Tok::kString && Is(t[i + 3], Tok::kPunct, ")"))
            a = Unescape(t[i + 2].text);
          known = known && a && a->size() == kBase64Alphabet.size();
          if (known) alphabet = *a;
          i += 3;
        }
      } else if (!Is(t[i], Tok::kIdent, "fullword") && !Is(t[i], Tok::kIdent, "private")) {
        known = false;  // what we do not know
      }
    }
    // The forms a match has: the text, its wide form, each XORed with each key, or the base64
    // text of either (libyara's three alignments, and that text widened for base64wide).
    // libyara refuses xor or base64 with nocase, and xor with base64.
    if (lit.size() > kMaxYaraLiteral) lit.resize(kMaxYaraLiteral);
    std::vector<std::string> plain;
    if (ascii || !wide) plain.push_back(lit);
    if (wide) plain.push_back(Widen(lit));
    std::vector<YaraLiteral> forms;
    if ((base64 || base64wide) && !caseless && xor_lo < 0) {
      for (const std::string& p : plain) {
        for (int align = 0; align < 3; ++align) {
          std::string text = Base64Determined(p, align, alphabet);
          if (base64) forms.push_back({text, false});
          if (base64wide) forms.push_back({Widen(text), false});
        }
      }
    } else if (xor_lo >= 0 && !caseless && !base64 && !base64wide) {
      for (const std::string& p : plain) {
        for (int key = xor_lo; key <= xor_hi; ++key) {
          std::string x = p;
          for (char& c : x) c = char(c ^ key);
          forms.push_back({std::move(x), false});
        }
      }
    } else if (!base64 && !base64wide && xor_lo < 0) {
      for (const std::string& p : plain) forms.push_back({p, caseless});
    }
    // Zeros are the commonest bytes of binary files: they do not count. The weakest form counts.
    const size_t longest = base64 || base64wide || xor_lo >= 0 ? kMaxYaraEncodedLiteral : kMaxYaraLiteral;
    size_t strength = SIZE_MAX;
    for (YaraLiteral& f : forms) {
      if (f.bytes.size() > longest) f.bytes.resize(longest);
      strength =
          std::min(strength, f.bytes.size() - size_t(std::count(f.bytes.begin(), f.bytes.end(), '\0')));
    }
    if (known && !forms.empty() && strength >= kMinYaraLiteral) {
      std::sort(forms.begin(), forms.end());
      forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
      d.lits = std::move(forms);
      d.strength = strength;
    }
    out.push_back(std::move(d));
  }
  return out;
}

using NeedSet = std::optional<std::vector<size_t>>;  // indexes of strings, one of which matches

size_t Strength(const std::vector<size_t>& set, const std::vector<StringDef>& strs) {
  size_t s = SIZE_MAX;
  for (size_t i : set) s = std::min(s, strs[i].strength);
  return s;
}

// The better of two sets that are both necessary: the one whose weakest literal is longest, then
// the smaller.
const NeedSet& Better(const NeedSet& a, const NeedSet& b, const std::vector<StringDef>& strs) {
  if (!a) return b;
  if (!b) return a;
  size_t sa = Strength(*a, strs), sb = Strength(*b, strs);
  if (sa != sb) return sa > sb ? a : b;
  return a->size() <= b->size() ? a : b;
}

// The strings a `$`/`#` reference names: one (`$a`), or a set (`$a*`, `$*`); empty if none.
std::vector<size_t> Named(std::string_view ref, const std::vector<StringDef>& strs) {
  std::string_view id = ref.substr(1);
  std::vector<size_t> out;
  bool wildcard = id.ends_with('*');
  if (wildcard) id.remove_suffix(1);
  for (size_t i = 0; i < strs.size(); ++i)
    if (wildcard ? strs[i].id.starts_with(id) : (!id.empty() && strs[i].id == id)) out.push_back(i);
  return out;
}

NeedSet One(std::string_view ref, const std::vector<StringDef>& strs) {
  if (ref.ends_with('*')) return std::nullopt;
  std::vector<size_t> s = Named(ref, strs);
  if (s.size() != 1 || strs[s[0]].lits.empty()) return std::nullopt;
  return s;
}

bool IsComparison(const Token& k) {
  static constexpr std::string_view kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  if (k.kind == Tok::kPunct) return std::find(std::begin(kOps), std::end(kOps), k.text) != std::end(kOps);
  static constexpr std::string_view kWords[] = {"contains", "icontains", "startswith", "istartswith",
                                                "endswith", "iendswith", "iequals",    "matches",
                                                "of",       "for",       "not",        "defined"};
  return k.kind == Tok::kIdent && std::find(std::begin(kWords), std::end(kWords), k.text) != std::end(kWords);
}

// Index of the bracket closing the one at x[i], or n.
size_t Closing(const Token* x, size_t n, size_t i) {
  int d = 0;
  for (size_t k = i; k < n; ++k) {
    if (x[k].kind == Tok::kPunct && (x[k].text == "(" || x[k].text == "[")) ++d;
    if (x[k].kind == Tok::kPunct && (x[k].text == ")" || x[k].text == "]") && --d == 0) return k;
  }
  return n;
}

NeedSet Need(const Span& t, size_t lo, size_t hi, const std::vector<StringDef>& strs, int depth) {
  if (lo >= hi || depth > kMaxGateDepth) return std::nullopt;
  std::vector<std::pair<size_t, size_t>> parts;
  if (!SplitAt(t, lo, hi, "or", &parts)) return std::nullopt;
  if (parts.size() > 1) {
    std::vector<size_t> all;
    for (const auto& [a, b] : parts) {
      NeedSet n = Need(t, a, b, strs, depth + 1);
      if (!n) return std::nullopt;
      all.insert(all.end(), n->begin(), n->end());
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
  }
  parts.clear();
  SplitAt(t, lo, hi, "and", &parts);
  if (parts.size() > 1) {
    NeedSet best;
    for (const auto& [a, b] : parts) {
      NeedSet n = Need(t, a, b, strs, depth + 1);
      best = Better(best, n, strs);
    }
    return best;
  }
  const size_t n = hi - lo;
  const Token* x = &t[lo];
  if (Is(x[0], Tok::kPunct, "(") && Closing(x, n, 0) == n - 1)
    return Need(t, lo + 1, hi - 1, strs, depth + 1);
  // $a, $a at E, $a in (R)
  if (x[0].kind == Tok::kStrRef && x[0].text[0] == '$') {
    if (n == 1) return One(x[0].text, strs);
    if (Is(x[1], Tok::kIdent, "at")) {
      int d = 0;
      for (size_t k = 2; k < n; ++k) {
        if (x[k].kind == Tok::kPunct && (x[k].text == "(" || x[k].text == "[")) ++d;
        if (x[k].kind == Tok::kPunct && (x[k].text == ")" || x[k].text == "]")) --d;
        if (d == 0 && IsComparison(x[k])) return std::nullopt;
      }
      return n > 2 ? One(x[0].text, strs) : std::nullopt;
    }
    if (n >= 4 && Is(x[1], Tok::kIdent, "in") && Is(x[2], Tok::kPunct, "(") && Closing(x, n, 2) == n - 1)
      return One(x[0].text, strs);
    return std::nullopt;
  }
  // #a > N, #a >= N, #a == N; N < #a, N <= #a, N == #a
  if (n == 3) {
    const Token *count = nullptr, *num = nullptr;
    std::string_view op;
    if (x[0].kind == Tok::kStrRef && x[0].text[0] == '#' && x[2].kind == Tok::kNumber) {
      count = &x[0], num = &x[2], op = x[1].text;
    } else if (x[2].kind == Tok::kStrRef && x[2].text[0] == '#' && x[0].kind == Tok::kNumber) {
      count = &x[2], num = &x[0];
      op = x[1].text == "<" ? ">" : x[1].text == "<=" ? ">=" : x[1].text == "==" ? "==" : "";
    }
    if (count && x[1].kind == Tok::kPunct) {
      std::optional<uint64_t> v = ParseNumber(num->text);
      if (v && (op == ">" || ((op == ">=" || op == "==") && *v >= 1)))
        return One("$" + std::string(count->text.substr(1)), strs);
      return std::nullopt;
    }
  }
  // Q of them, Q of ($a, $b*, ...)
  if (n >= 3 && Is(x[1], Tok::kIdent, "of")) {
    std::vector<size_t> set;
    if (n == 3 && Is(x[2], Tok::kIdent, "them")) {
      for (size_t i = 0; i < strs.size(); ++i) set.push_back(i);
    } else if (Is(x[2], Tok::kPunct, "(") && Closing(x, n, 2) == n - 1) {
      // libyara counts every string each item names, a string named twice ($a, $a*) twice: the
      // set is a multiset.
      for (size_t k = 3; k + 1 < n; k += 2) {
        if (x[k].kind != Tok::kStrRef || x[k].text[0] != '$') return std::nullopt;
        if (!Is(x[k + 1], Tok::kPunct, k + 2 == n ? ")" : ",")) return std::nullopt;
        std::vector<size_t> named = Named(x[k].text, strs);
        if (named.empty()) return std::nullopt;
        set.insert(set.end(), named.begin(), named.end());
      }
    } else {
      return std::nullopt;
    }
    uint64_t q = 0;
    if (Is(x[0], Tok::kIdent, "any"))
      q = 1;
    else if (Is(x[0], Tok::kIdent, "all"))
      q = set.size();
    else if (x[0].kind == Tok::kNumber)
      q = ParseNumber(x[0].text).value_or(0);
    if (q == 0 || q > set.size()) return std::nullopt;
    // At least q of the set match, so one of any set.size() - q + 1 of them does: the strongest.
    size_t k = set.size() - q + 1;
    std::erase_if(set, [&strs](size_t i) { return strs[i].lits.empty(); });
    if (set.size() < k) return std::nullopt;
    std::stable_sort(set.begin(), set.end(),
                     [&strs](size_t a, size_t b) { return strs[a].strength > strs[b].strength; });
    set.resize(k);
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    return set;
  }
  return std::nullopt;
}

// The needs of a rule: strings section tokens [s_lo, s_hi) (empty if none), condition [c_lo, c_hi).
std::optional<std::vector<YaraLiteral>> RuleNeeds(std::string_view text, const Span& t, size_t s_lo,
                                                  size_t s_hi, size_t c_lo, size_t c_hi) {
  std::optional<std::vector<StringDef>> strs = ParseStrings(text, t, s_lo, s_hi);
  if (!strs || strs->empty()) return std::nullopt;
  NeedSet set = Need(t, c_lo, c_hi, *strs, 0);
  if (!set || set->empty()) return std::nullopt;
  std::vector<YaraLiteral> out;
  for (size_t i : *set) out.insert(out.end(), (*strs)[i].lits.begin(), (*strs)[i].lits.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

YaraSplit Whole(YaraSplit split, std::string why) {
  split.keep_whole = std::move(why);
  for (auto& r : split.rules) {
    r.gate = YaraGate{};
    r.needs.reset();
  }
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

std::string HexStringLiteral(std::string_view text) {
  // Comments first (a bracket in one is not one), each as a space.
  std::string body;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, 2) == "//") {
      while (i < text.size() && text[i] != '\n') ++i;
      body.push_back(' ');
    } else if (text.substr(i, 2) == "/*") {
      size_t close = text.find("*/", i + 2);
      if (close == std::string_view::npos) return "";
      i = close + 2;
      body.push_back(' ');
    } else {
      body.push_back(text[i++]);
    }
  }
  Runs runs;
  size_t i = 0, n = body.size();
  auto nibble = [](char c) { return c == '?' || HexDigitValue(c) >= 0; };
  while (i < n) {
    char c = body[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      ++i;
    } else if (HexDigitValue(c) >= 0 && i + 1 < n && HexDigitValue(body[i + 1]) >= 0) {
      runs.Add(char(HexDigitValue(c) * 16 + HexDigitValue(body[i + 1])));
      i += 2;
    } else if (nibble(c) && i + 1 < n && nibble(body[i + 1])) {  // ??, ?X, X?
      runs.Cut();
      i += 2;
    } else if (c == '~' && i + 2 < n && nibble(body[i + 1]) && nibble(body[i + 2])) {
      runs.Cut();
      i += 3;
    } else if (c == '[') {
      size_t close = body.find(']', i);
      if (close == std::string_view::npos) return "";
      runs.Cut();
      i = close + 1;
    } else if (c == '(') {  // alternatives: none of their bytes is certain
      int d = 0;
      for (; i < n; ++i) {
        if (body[i] == '(') ++d;
        if (body[i] == ')' && --d == 0) break;
      }
      if (i >= n) return "";
      runs.Cut();
      ++i;
    } else {
      return "";
    }
  }
  runs.Cut();
  return runs.best;
}

std::string RegexLiteral(std::string_view pattern) {
  Runs runs;
  size_t i = 0;
  bool alternation = false;
  if (!RegexSequence(pattern, &i, 0, &runs, &alternation) || alternation) return "";
  runs.Cut();
  return runs.best;
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
      std::string_view quoted = t[i + 1].text;
      split.imports.push_back({std::string(quoted.substr(1, quoted.size() - 2)), t[i].begin, t[i + 1].end});
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
    size_t cond = 0, strings = 0;
    size_t close = i;
    for (; close < t.size(); ++close) {
      if (Is(t[close], Tok::kPunct, "{")) ++depth;
      if (Is(t[close], Tok::kPunct, "}") && --depth == 0) break;
      if (depth == 1 && Is(t[close], Tok::kIdent, "condition") && close + 1 < t.size() &&
          Is(t[close + 1], Tok::kPunct, ":"))
        cond = close + 2;
      if (depth == 1 && cond == 0 && Is(t[close], Tok::kIdent, "strings") && close + 1 < t.size() &&
          Is(t[close + 1], Tok::kPunct, ":"))
        strings = close + 2;
    }
    if (close >= t.size() || cond == 0 || cond > close)
      return Whole(std::move(split), "rule " + rule.name + " without an end or a condition");
    rule.end = t[close].end;
    rule.cond_begin = cond < close ? t[cond].begin : t[close].begin;
    rule.cond_end = t[close].begin;
    rule.gate = Gate(t, cond, close, 0);
    if (strings > 0 && strings <= cond - 2) rule.needs = RuleNeeds(text, t, strings, cond - 2, cond, close);
    for (size_t k = i; k + 1 < close; ++k)
      if (t[k].kind == Tok::kIdent && Is(t[k + 1], Tok::kPunct, ".") &&
          (k == 0 || !Is(t[k - 1], Tok::kPunct, ".")))
        for (const YaraImport& im : split.imports)
          if (t[k].text == im.module) rule.modules.push_back(im.module);
    std::sort(rule.modules.begin(), rule.modules.end());
    rule.modules.erase(std::unique(rule.modules.begin(), rule.modules.end()), rule.modules.end());
    conditions.push_back({cond, close});
    split.rules.push_back(std::move(rule));
    i = close + 1;
  }
  std::map<std::string_view, size_t> names;
  for (size_t r = 0; r < split.rules.size(); ++r)
    if (!names.emplace(split.rules[r].name, r).second) {
      std::string why = "two rules named " + split.rules[r].name;  // before split is moved
      return Whole(std::move(split), std::move(why));
    }
  // A name that is also a field (`pe.sections` and a rule `sections`) adds a rule that is not
  // needed, which costs only time. A name followed by `*` is a rule set (`any of (ab*)`): every
  // rule whose name starts so (`x * 2` adds some needlessly, which costs only time too).
  for (size_t r = 0; r < conditions.size(); ++r) {
    auto& uses = split.rules[r].uses;
    for (size_t k = conditions[r].first; k < conditions[r].second; ++k) {
      if (t[k].kind != Tok::kIdent) continue;
      if (k + 1 < conditions[r].second && Is(t[k + 1], Tok::kPunct, "*")) {
        for (auto it = names.lower_bound(t[k].text); it != names.end() && it->first.starts_with(t[k].text);
             ++it)
          if (it->second != r) uses.push_back(it->second);
        continue;
      }
      auto it = names.find(t[k].text);
      if (it != names.end() && it->second != r) uses.push_back(it->second);
    }
    std::sort(uses.begin(), uses.end());
    uses.erase(std::unique(uses.begin(), uses.end()), uses.end());
  }
  return split;
}

namespace {
// True on every item that does not start with "MZ" (filesize < 2: uint16(0) is undefined there).
constexpr std::string_view kNotMzGuard = "(filesize < 2 or uint16(0) != 0x5a4d)";

// The replacements AssumeNoPe makes in one condition (tokens `t`, offsets into the condition), or
// false if some pe reference cannot be replaced.
bool NoPeReplacements(const std::vector<Token>& t,
                      std::vector<std::tuple<size_t, size_t, std::string>>* out) {
  // What may stand before and after a replaced run: keywords and brackets that bind more loosely
  // than any operator inside it, and nothing that could make a leading `-` binary.
  auto loose_before = [](const Token* k) {
    if (!k) return true;
    if (k->kind == Tok::kIdent)
      return k->text == "and" || k->text == "or" || k->text == "not" || k->text == "at";
    return k->kind == Tok::kPunct && (k->text == "(" || k->text == "," || k->text == "..");
  };
  auto loose_after = [](const Token* k) {
    if (!k) return true;
    if (k->kind == Tok::kIdent) return k->text == "and" || k->text == "or";
    return k->kind == Tok::kPunct && (k->text == ")" || k->text == "," || k->text == "..");
  };
  const size_t n = t.size();
  for (size_t i = 0; i < n;) {
    size_t end;
    std::string_view field;
    if (!ExpressionElement(t.data(), n, i, &end, &field)) {
      if (Is(t[i], Tok::kIdent, "pe")) return false;  // pe not followed by .name
      ++i;
      continue;
    }
    // A run of expression elements [i, run_end).
    size_t run_end = i, first = i, last = i;
    bool dynamic = false, constant = false;
    std::vector<std::pair<size_t, size_t>> is_pe;  // operands that are exactly pe.is_pe
    for (size_t k = i; k < n;) {
      size_t e;
      std::string_view f;
      if (!ExpressionElement(t.data(), n, k, &e, &f)) break;
      if (!f.empty()) {
        if (DynamicPeField(f))
          dynamic = true;
        else if (f == "is_pe" && e == k + 3)
          is_pe.push_back({k, e});
        else
          constant = true;  // an upper-case constant, or is_pe with more after it
      }
      last = k;
      k = run_end = e;
    }
    const Token* before = first > 0 ? &t[first - 1] : nullptr;
    const Token* after = run_end < n ? &t[run_end] : nullptr;
    if (dynamic) {
      // The run must be a whole operand: it starts with an operand or a unary operator, ends with
      // an operand, and its neighbours bind more loosely than anything inside it.
      auto operand = [&t, n](size_t k) {
        size_t e;
        std::string_view f;
        return t[k].kind == Tok::kNumber || t[k].kind == Tok::kString || t[k].kind == Tok::kRegex ||
               (ExpressionElement(t.data(), n, k, &e, &f) && !f.empty());
      };
      const bool starts = operand(first) || Is(t[first], Tok::kPunct, "-") || Is(t[first], Tok::kPunct, "~");
      if (!starts || !operand(last) || !loose_before(before) || !loose_after(after)) return false;
      out->emplace_back(t[first].begin, t[run_end - 1].end, "uint8(filesize)");
    } else {
      if (constant) return false;  // a constant's value is not ours to write
      for (auto [a, b] : is_pe) out->emplace_back(t[a].begin, t[b - 1].end, "0");
    }
    i = run_end;
  }
  return true;
}
}  // namespace

std::string AssumeNoPe(std::string_view text, const YaraSplit& split, const std::vector<size_t>& rules,
                       bool rewrite) {
  std::vector<std::tuple<size_t, size_t, std::string>> all;  // absolute byte ranges
  for (size_t r : rules) {
    if (r >= split.rules.size()) continue;
    const YaraRuleSpan& rule = split.rules[r];
    if (rule.cond_end > text.size() || rule.cond_begin >= rule.cond_end) continue;
    all.emplace_back(rule.cond_begin, rule.cond_begin, std::string(kNotMzGuard) + " and (");
    all.emplace_back(rule.cond_end, rule.cond_end, ")");
    if (!rewrite || std::find(rule.modules.begin(), rule.modules.end(), "pe") == rule.modules.end()) continue;
    std::vector<Token> t;
    if (!Lex(text.substr(rule.cond_begin, rule.cond_end - rule.cond_begin), &t)) continue;
    std::vector<std::tuple<size_t, size_t, std::string>> mine;
    if (!NoPeReplacements(t, &mine)) continue;
    for (auto& [b, e, with] : mine)
      all.emplace_back(rule.cond_begin + b, rule.cond_begin + e, std::move(with));
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return std::tie(std::get<0>(x), std::get<1>(x)) < std::tie(std::get<0>(y), std::get<1>(y));
  });
  std::string out;
  size_t at = 0;
  for (const auto& [b, e, with] : all) {
    if (b < at) return {};  // overlapping replacements: not expected; the caller sees no rules
    out.append(text.substr(at, b - at));
    out.append(with);
    for (size_t i = b; i < e; ++i)
      if (text[i] == '\n') out.push_back('\n');  // the lines stay where they were
    at = e;
  }
  out.append(text.substr(at));
  return out;
}

std::vector<size_t> WithDependencies(const YaraSplit& split, const std::vector<size_t>& keep) {
  std::vector<bool> in(split.rules.size(), false);
  std::vector<size_t> todo;
  for (size_t k : keep)
    if (k < in.size() && !in[k]) in[k] = true, todo.push_back(k);
  while (!todo.empty()) {
    size_t r = todo.back();
    todo.pop_back();
    for (size_t u : split.rules[r].uses)
      if (!in[u]) in[u] = true, todo.push_back(u);
  }
  std::vector<size_t> out;
  for (size_t r = 0; r < in.size(); ++r)
    if (in[r]) out.push_back(r);
  return out;
}

std::string KeepOnlyRules(std::string_view text, const YaraSplit& split, const std::vector<size_t>& keep) {
  std::string out(text);
  std::vector<bool> kept(split.rules.size(), false);
  for (size_t k : keep)
    if (k < kept.size()) kept[k] = true;
  auto blank = [&out](size_t begin, size_t end) {
    for (size_t i = begin; i < std::min(end, out.size()); ++i)
      if (out[i] != '\n') out[i] = ' ';
  };
  std::set<std::string_view> used;
  for (size_t r = 0; r < split.rules.size(); ++r) {
    if (kept[r])
      used.insert(split.rules[r].modules.begin(), split.rules[r].modules.end());
    else
      blank(split.rules[r].begin, split.rules[r].end);
  }
  for (const YaraImport& im : split.imports)
    if (!used.count(im.module)) blank(im.begin, im.end);
  return out;
}

namespace {
int ExternalIndex(const Token& t) {
  if (t.kind != Tok::kIdent) return -1;
  for (size_t v = 0; v < std::size(kYaraExternals); ++v)
    if (t.text == kYaraExternals[v]) return int(v);
  return -1;
}

// Token k (an external) starts a predicate in the tokens [begin, end) of a condition: its length
// in tokens (3), or 0 if it is used otherwise.
size_t PredicateAt(const std::vector<Token>& t, size_t begin, size_t end, size_t k) {
  static constexpr std::string_view kTextOps[] = {"contains", "icontains", "startswith", "istartswith",
                                                  "endswith", "iendswith", "iequals"};
  if (k > begin) {
    const Token& prev = t[k - 1];
    if (!Is(prev, Tok::kPunct, "(") && !Is(prev, Tok::kIdent, "and") && !Is(prev, Tok::kIdent, "or") &&
        !Is(prev, Tok::kIdent, "not"))
      return 0;
  }
  if (k + 2 >= end) return 0;
  const Token& op = t[k + 1];
  const Token& lit = t[k + 2];
  bool text_op = Is(op, Tok::kPunct, "==") || Is(op, Tok::kPunct, "!=");
  for (auto name : kTextOps) text_op = text_op || Is(op, Tok::kIdent, name);
  if (!(text_op && lit.kind == Tok::kString) && !(Is(op, Tok::kIdent, "matches") && lit.kind == Tok::kRegex))
    return 0;
  if (k + 3 < end) {
    const Token& next = t[k + 3];
    if (!Is(next, Tok::kPunct, ")") && !Is(next, Tok::kIdent, "and") && !Is(next, Tok::kIdent, "or"))
      return 0;
  }
  return 3;
}
}  // namespace

void YaraExternalUses::Merge(const YaraExternalUses& other) {
  opaque |= other.opaque;
  predicates.insert(predicates.end(), other.predicates.begin(), other.predicates.end());
  std::sort(predicates.begin(), predicates.end());
  predicates.erase(std::unique(predicates.begin(), predicates.end()), predicates.end());
}

YaraExternalUses ExternalUses(std::string_view text) {
  YaraExternalUses uses;
  YaraSplit split = SplitYaraRules(text);
  std::vector<Token> t;
  if (!split.keep_whole.empty() || !Lex(text, &t)) {
    uses.opaque = kAllExternalsOpaque;
    return uses;
  }
  size_t k = 0;
  for (const YaraRuleSpan& rule : split.rules) {
    while (k < t.size() && t[k].begin < rule.cond_begin) ++k;
    const size_t begin = k;
    size_t end = k;
    while (end < t.size() && t[end].end <= rule.cond_end) ++end;
    for (; k < end; ++k) {
      int v = ExternalIndex(t[k]);
      if (v < 0 || (k > begin && Is(t[k - 1], Tok::kPunct, "."))) continue;
      if (size_t n = PredicateAt(t, begin, end, k); n > 0) {
        uses.predicates.emplace_back(text.substr(t[k].begin, t[k + n - 1].end - t[k].begin));
        k += n - 1;
      } else {
        uses.opaque |= uint8_t(1u << v);
      }
    }
  }
  std::sort(uses.predicates.begin(), uses.predicates.end());
  uses.predicates.erase(std::unique(uses.predicates.begin(), uses.predicates.end()), uses.predicates.end());
  return uses;
}

bool IsExternalPredicate(std::string_view text) {
  std::vector<Token> t;
  if (!Lex(text, &t) || t.size() != 3 || ExternalIndex(t[0]) < 0) return false;
  return t[0].begin == 0 && t[2].end == text.size() && PredicateAt(t, 0, t.size(), 0) == 3;
}

}  // namespace accord::scan
