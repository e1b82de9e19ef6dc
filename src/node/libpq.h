// libpq, loaded when the node first connects to PostgreSQL rather than when accord starts.
//
// libpq.so.5 pulls in about twenty libraries (Kerberos, LDAP, SASL, GnuTLS...): linked into the
// accord program, loading them took 10 of the 30 ms every accord command spent before main(), the
// commands that never touch PostgreSQL (scan, scand, submit...) included. pg.cc reaches libpq only
// through the table below, filled by dlopen/dlsym the first time it is asked for.
// Thread-safety: Load may be called from any thread, at once; the table it returns is immutable.
#pragma once

#include <libpq-fe.h>

#include "core/status.h"

namespace accord::node::pg {

// The library's SONAME: libpq's has been 5 since PostgreSQL 8.0, and Debian's libpq5 package
// installs it. Pipeline mode needs libpq 14 or later.
inline constexpr const char* kLibPqName = "libpq.so.5";

struct LibPq {
  decltype(&::PQclear) clear;
  decltype(&::PQcmdTuples) cmdTuples;
  decltype(&::PQconnectdbParams) connectdbParams;
  decltype(&::PQconsumeInput) consumeInput;
  decltype(&::PQenterPipelineMode) enterPipelineMode;
  decltype(&::PQerrorMessage) errorMessage;
  decltype(&::PQexec) exec;
  decltype(&::PQexecPrepared) execPrepared;
  decltype(&::PQexitPipelineMode) exitPipelineMode;
  decltype(&::PQfinish) finish;
  decltype(&::PQfreemem) freemem;
  decltype(&::PQgetResult) getResult;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQnotifies) notifies;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQpipelineStatus) pipelineStatus;
  decltype(&::PQpipelineSync) pipelineSync;
  decltype(&::PQprepare) prepare;
  decltype(&::PQresultErrorMessage) resultErrorMessage;
  decltype(&::PQresultStatus) resultStatus;
  decltype(&::PQsendQueryPrepared) sendQueryPrepared;
  decltype(&::PQsetNoticeProcessor) setNoticeProcessor;
  decltype(&::PQsocket) socket;
  decltype(&::PQstatus) status;
  decltype(&::PQtransactionStatus) transactionStatus;

  // Loads kLibPqName and every function above, once per process (the library stays loaded).
  // FailedPrecondition, naming the library and what the dynamic loader said, if it cannot be
  // loaded or lacks a function; the same answer on every later call.
  static Result<const LibPq*> Load();
  // The table, once Load has succeeded in this process; MUST NOT be called before.
  static const LibPq& Get();
};

}  // namespace accord::node::pg
