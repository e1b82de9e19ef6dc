#include "scan/fault_guard.h"

#include <pthread.h>
#include <ucontext.h>

#include <csetjmp>
#include <csignal>
#include <mutex>

namespace accord::scan {
namespace {

thread_local sigjmp_buf* t_jump = nullptr;  // the innermost guarded call of this thread
struct sigaction g_previous_segv, g_previous_bus;
std::once_flag g_installed;

void OnFault(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* jump = t_jump) {
    t_jump = nullptr;  // RunGuarded puts back the outer one
    // The mask the thread had when it faulted (the kernel, or a handler that chained to this
    // one, blocked more meanwhile): siglongjmp here restores none.
    if (context != nullptr)
      pthread_sigmask(SIG_SETMASK, &static_cast<ucontext_t*>(context)->uc_sigmask, nullptr);
    siglongjmp(*jump, sig);
  }
  // Not inside a guarded call: as if this handler were not there.
  const struct sigaction& previous = sig == SIGBUS ? g_previous_bus : g_previous_segv;
  const bool sent = info == nullptr || info->si_code <= 0;  // by kill(2) or the like, not a fault
  const bool has_function = (previous.sa_flags & SA_SIGINFO) != 0
                                ? previous.sa_sigaction != nullptr
                                : previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
                                      previous.sa_handler != nullptr;
  if (has_function) {
    // What that handler asked to have blocked while it runs (this signal is already).
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &previous.sa_mask, &old_mask);
    if ((previous.sa_flags & SA_SIGINFO) != 0)
      previous.sa_sigaction(sig, info, context);
    else
      previous.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return;
  }
  if (previous.sa_handler == SIG_IGN && sent) return;  // ignored, as it was
  // The default action (or a real fault that was to be ignored, which the kernel does not
  // allow either): returning runs the faulting instruction again, which now kills the process
  // with this signal; a sent signal is sent again.
  std::signal(sig, SIG_DFL);
  if (sent) std::raise(sig);
}

void Install() {
  struct sigaction act {};
  act.sa_sigaction = OnFault;
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &act, &g_previous_segv);
  sigaction(SIGBUS, &act, &g_previous_bus);
}

}  // namespace

bool RunGuarded(void (*fn)(void*), void* arg, int* signal) {
  std::call_once(g_installed, Install);
  sigjmp_buf jump;
  sigjmp_buf* const outer = t_jump;
  const int sig = sigsetjmp(jump, 0);
  if (sig == 0) {
    t_jump = &jump;
    fn(arg);
    t_jump = outer;
    return true;
  }
  t_jump = outer;
  if (signal) *signal = sig;
  return false;
}

}  // namespace accord::scan
