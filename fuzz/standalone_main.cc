// A stand-in for libFuzzer's main, so that every fuzz target also runs in the ordinary g++ build
// and its ctest run, where no clang is at hand.
//
//   fuzz_<target> [-runs=N] [-seed=S] [-max_len=L] [-dict=FILE] PATH...
//
// Runs LLVMFuzzerTestOneInput over every file in PATH (files, or directories read one level deep,
// in sorted order), then over N mutations of them: bit flips, byte changes, insertions, deletions,
// truncations, duplicated ranges, splices of two inputs and dictionary tokens. There is no coverage
// feedback, so this is a smoke test of the seeds' neighbourhood, not a substitute for libFuzzer.
// Everything derives from the seed, so a failure reproduces with the same command line; the input
// that failed is also written to ./standalone-crash-<target> before the process dies.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Provided by the sanitizer runtimes when the build has them: their reports end the process
// without a signal that we could catch.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

using Input = std::vector<uint8_t>;

// The input being run, for the crash handler. Written before each run; read only when dying.
const Input* g_current = nullptr;
char g_crash_path[512] = "standalone-crash";

void SaveCurrentInput() {
  if (g_current == nullptr) return;
  // open/write/close only: this runs from signal handlers.
  int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < g_current->size()) {
    ssize_t n = ::write(fd, g_current->data() + done, g_current->size() - done);
    if (n <= 0) break;
    done += size_t(n);
  }
  ::close(fd);
  const char msg[] = "standalone fuzz driver: failing input written to ";
  (void)!::write(2, msg, sizeof msg - 1);
  (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
  (void)!::write(2, "\n", 1);
}

void OnFatalSignal(int sig) {
  SaveCurrentInput();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallCrashHandlers() {
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(SaveCurrentInput);
  // With a sanitizer, SIGSEGV and friends belong to its runtime, which reports them better.
  std::vector<int> signals = {SIGABRT, SIGILL, SIGTRAP};
  if (__sanitizer_set_death_callback == nullptr) signals.insert(signals.end(), {SIGSEGV, SIGBUS, SIGFPE});
  for (int sig : signals) ::signal(sig, OnFatalSignal);
}

void Run(const Input& in) {
  g_current = &in;
  // A copy of exactly the input's size, so that reads past the end hit the sanitizer's redzone.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[in.size()]);
  std::copy(in.begin(), in.end(), copy.get());
  LLVMFuzzerTestOneInput(copy.get(), in.size());
  g_current = nullptr;
}

bool ReadFile(const std::filesystem::path& path, Input* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// libFuzzer's dictionary format: one "token" per line, optionally name=, with \\, \" and \xNN.
std::vector<Input> ReadDict(const std::string& path) {
  std::vector<Input> tokens;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    size_t q = line.find('"');
    if (line.empty() || line[0] == '#' || q == std::string::npos) continue;
    Input tok;
    for (size_t i = q + 1; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        if (line[i] == 'x' && i + 2 < line.size()) {
          tok.push_back(uint8_t(std::stoi(line.substr(i + 1, 2), nullptr, 16)));
          i += 2;
          continue;
        }
      }
      tok.push_back(uint8_t(line[i]));
    }
    if (!tok.empty()) tokens.push_back(std::move(tok));
  }
  return tokens;
}

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<Input>& corpus, const std::vector<Input>& dict, size_t max_len)
      : rng_(seed), corpus_(corpus), dict_(dict), max_len_(max_len) {}

  Input Next() {
    Input in = corpus_.empty() ? Input() : corpus_[Below(corpus_.size())];
    int steps = 1 + int(Below(4));
    for (int i = 0; i < steps; ++i) MutateOnce(in);
    if (in.size() > max_len_) in.resize(max_len_);
    return in;
  }

 private:
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  uint8_t InterestingByte() {
    // Bytes the formats give meaning to: separators, base64 and digits, UTF-8 lead bytes.
    static const uint8_t kBytes[] = {0,   1,   0x7f, 0x80, 0xff, '\n', ' ',  '+',  '/',  '=', '0',
                                     '1', '9', 'x',  '.',  'A',  0xe2, 0x80, 0x94, 0xc0, 0xf4};
    return kBytes[Below(sizeof kBytes)];
  }

  void MutateOnce(Input& in) {
    size_t n = in.size();
    switch (Below(10)) {
      case 0:  // flip a bit
        if (n > 0) in[Below(n)] ^= uint8_t(1u << Below(8));
        break;
      case 1:  // set a byte
        if (n > 0) in[Below(n)] = uint8_t(rng_());
        break;
      case 2:  // set a byte the formats care about
        if (n > 0) in[Below(n)] = InterestingByte();
        break;
      case 3: {  // insert a few bytes
        size_t pos = Below(n + 1), count = 1 + Below(4);
        for (size_t i = 0; i < count; ++i)
          in.insert(in.begin() + pos, Below(2) ? InterestingByte() : uint8_t(rng_()));
        break;
      }
      case 4: {  // delete a range
        if (n == 0) break;
        size_t pos = Below(n), len = 1 + Below(std::min<size_t>(n - pos, 16));
        in.erase(in.begin() + pos, in.begin() + pos + len);
        break;
      }
      case 5:  // truncate
        in.resize(Below(n + 1));
        break;
      case 6: {  // duplicate a range in place: repeated lines, hashes, entries
        if (n == 0) break;
        size_t pos = Below(n), len = 1 + Below(std::min<size_t>(n - pos, 64));
        Input chunk(in.begin() + pos, in.begin() + pos + len);
        in.insert(in.begin() + Below(n + 1), chunk.begin(), chunk.end());
        break;
      }
      case 7: {  // splice: a prefix of this input and a suffix of another
        if (corpus_.empty()) break;
        const Input& other = corpus_[Below(corpus_.size())];
        size_t cut = Below(n + 1), from = Below(other.size() + 1);
        in.resize(cut);
        in.insert(in.end(), other.begin() + from, other.end());
        break;
      }
      case 8: {  // insert or overwrite with a dictionary token
        if (dict_.empty()) break;
        const Input& tok = dict_[Below(dict_.size())];
        size_t pos = Below(n + 1);
        if (Below(2) && pos + tok.size() <= n) {
          std::copy(tok.begin(), tok.end(), in.begin() + pos);
        } else {
          in.insert(in.begin() + pos, tok.begin(), tok.end());
        }
        break;
      }
      case 9: {  // nudge an ASCII digit: sizes and indices in text formats
        if (n == 0) break;
        size_t pos = Below(n);
        for (size_t i = 0; i < n; ++i) {
          uint8_t& c = in[(pos + i) % n];
          if (c >= '0' && c <= '9') {
            c = uint8_t('0' + (c - '0' + 1 + Below(9)) % 10);
            break;
          }
        }
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  const std::vector<Input>& corpus_;
  const std::vector<Input>& dict_;
  size_t max_len_;
};

bool FlagValue(const char* arg, const char* name, std::string* value) {
  size_t len = std::strlen(name);
  if (std::strncmp(arg, name, len) != 0 || arg[len] != '=') return false;
  *value = arg + len + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 0, seed = 1;
  size_t max_len = 0;
  std::vector<Input> dict;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (FlagValue(argv[i], "-runs", &v)) {
      runs = std::stoull(v);
    } else if (FlagValue(argv[i], "-seed", &v)) {
      seed = std::stoull(v);
    } else if (FlagValue(argv[i], "-max_len", &v)) {
      max_len = std::stoull(v);
    } else if (FlagValue(argv[i], "-dict", &v)) {
      dict = ReadDict(v);
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "%s: unknown flag %s\n", argv[0], argv[i]);
      return 2;
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& e : std::filesystem::directory_iterator(argv[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.push_back(argv[i]);
    }
  }
  // directory_iterator's order is unspecified; sorting keeps runs reproducible across machines.
  std::sort(files.begin(), files.end());

  std::string target = std::filesystem::path(argv[0]).filename().string();
  std::snprintf(g_crash_path, sizeof g_crash_path, "standalone-crash-%s", target.c_str());
  InstallCrashHandlers();

  auto start = std::chrono::steady_clock::now();
  std::vector<Input> corpus;
  size_t largest = 0;
  for (const auto& f : files) {
    Input in;
    if (!ReadFile(f, &in)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
      return 2;
    }
    Run(in);
    largest = std::max(largest, in.size());
    corpus.push_back(std::move(in));
  }
  if (max_len == 0) max_len = std::max<size_t>(2 * largest, 4096);

  Mutator mutator(seed, corpus, dict, max_len);
  for (uint64_t i = 0; i < runs; ++i) Run(mutator.Next());

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu corpus inputs and %llu mutations (seed %llu) in %.2f s, no failures\n", target.c_str(),
              corpus.size(), (unsigned long long)runs, (unsigned long long)seed, secs);
  return 0;
}
