// A memory fault (SIGSEGV, SIGBUS) inside a guarded call ends that call, not the process.
//
// What it is for: libyara's scans. libyara guards each scan itself (YR_TRYCATCH) by installing
// its SIGSEGV and SIGBUS handlers around each of a scan's three guarded regions and restoring the
// old ones after: fifteen system calls a scan (Debian's 4.2.3: four sigaction and a sigprocmask
// a region), which on small items cost more than scanning their bytes (docs/benchmarks.md).
// accord scans with SCAN_FLAGS_NO_TRYCATCH instead, inside RunGuarded, whose handler is
// installed once and stays: a fault in libyara (a bug met on hostile input) still ends that
// item's scan with an error, as libyara's own guard did, and the scanning thread goes on.
// libyara's guard saves and restores the handlers without a lock, so it must not be mixed with
// this one across threads: accord never goes back to it.
//
// Contract:
// - The handler is installed by the first RunGuarded call of the process (SA_SIGINFO |
//   SA_ONSTACK) and never removed. A fault outside a guarded call goes to the handler that was
//   installed before it (a sanitizer's, a fuzzer's; with its mask), is ignored if it was sent
//   (kill) and ignored before, or takes the default action: the process dies of it as it would
//   have without this guard. Leaving a guarded call by a fault restores the thread's signal mask
//   as it was when it faulted.
// - After a fault, whatever `fn` was changing is in an unknown state: the caller must not use
//   it as it was (YaraScanner replaces a libyara scanner that faulted). `fn` is left by
//   siglongjmp: it must not hold locks or own objects whose destructors matter. A fault while
//   libc holds a lock of its own (inside malloc) can still leave that lock held, as with
//   libyara's guard.
// - Guarded calls nest: a fault ends the innermost.
//
// Thread-safety: any thread; each thread's guarded calls are its own.
#pragma once

namespace accord::scan {

// Runs fn(arg). True if it returned; false if a SIGSEGV or SIGBUS on this thread ended it, with
// the signal's number in *signal (when not null).
bool RunGuarded(void (*fn)(void*), void* arg, int* signal = nullptr);

}  // namespace accord::scan
