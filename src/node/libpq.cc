#include "node/libpq.h"

#include <dlfcn.h>

#include <atomic>
#include <cassert>
#include <mutex>
#include <string>
#include <type_traits>

namespace accord::node::pg {
namespace {

std::atomic<const LibPq*> g_loaded{nullptr};

Result<const LibPq*> LoadOnce() {
  const std::string name = kLibPqName;
  // RTLD_LOCAL: its symbols are for this table only; RTLD_NOW: a missing one fails here.
  void* handle = dlopen(kLibPqName, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return FailedPrecondition(
        "PostgreSQL: cannot load the client library: " + (why ? std::string(why) : name + ": unknown error") +
        " (Debian: apt-get install libpq5)");
  }
  auto* t = new LibPq();  // kept for the process's life, as the library is
  std::string missing;
  auto bind = [&](auto& fn, const char* symbol) {
    dlerror();
    void* p = dlsym(handle, symbol);
    if (!p) {
      missing += missing.empty() ? symbol : std::string(", ") + symbol;
      return;
    }
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  bind(t->clear, "PQclear");
  bind(t->cmdTuples, "PQcmdTuples");
  bind(t->connectdbParams, "PQconnectdbParams");
  bind(t->consumeInput, "PQconsumeInput");
  bind(t->enterPipelineMode, "PQenterPipelineMode");
  bind(t->errorMessage, "PQerrorMessage");
  bind(t->exec, "PQexec");
  bind(t->execPrepared, "PQexecPrepared");
  bind(t->exitPipelineMode, "PQexitPipelineMode");
  bind(t->finish, "PQfinish");
  bind(t->freemem, "PQfreemem");
  bind(t->getResult, "PQgetResult");
  bind(t->getisnull, "PQgetisnull");
  bind(t->getlength, "PQgetlength");
  bind(t->getvalue, "PQgetvalue");
  bind(t->notifies, "PQnotifies");
  bind(t->ntuples, "PQntuples");
  bind(t->pipelineStatus, "PQpipelineStatus");
  bind(t->pipelineSync, "PQpipelineSync");
  bind(t->prepare, "PQprepare");
  bind(t->resultErrorMessage, "PQresultErrorMessage");
  bind(t->resultStatus, "PQresultStatus");
  bind(t->sendQueryPrepared, "PQsendQueryPrepared");
  bind(t->setNoticeProcessor, "PQsetNoticeProcessor");
  bind(t->socket, "PQsocket");
  bind(t->status, "PQstatus");
  bind(t->transactionStatus, "PQtransactionStatus");
  if (!missing.empty()) {
    delete t;
    dlclose(handle);
    return FailedPrecondition("PostgreSQL: the client library " + name + " lacks " + missing +
                              " (accord needs libpq 14 or later)");
  }
  return t;
}

}  // namespace

Result<const LibPq*> LibPq::Load() {
  static std::once_flag once;
  static Result<const LibPq*> result = Internal("libpq: not loaded");
  std::call_once(once, [] {
    result = LoadOnce();
    if (result.ok()) g_loaded.store(result.value(), std::memory_order_release);
  });
  return result;
}

const LibPq& LibPq::Get() {
  const LibPq* t = g_loaded.load(std::memory_order_acquire);
  assert(t != nullptr);
  return *t;
}

}  // namespace accord::node::pg
