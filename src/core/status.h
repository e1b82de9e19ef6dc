// Status and Result<T>: errors as values (leveldb Status, abseil StatusOr).
//
// Every library function that can fail on outside input returns one of these; nothing throws
// across a library boundary. A message says what and where ("tile/0/001: size 8000, want 8192").
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace accord {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed
  kNotFound,            // a file, key or entry that should exist does not
  kAlreadyExists,       // refusing to overwrite
  kDataLoss,            // stored data is corrupt or inconsistent with what was signed
  kFailedPrecondition,  // the system is not in a state where this can run (e.g. locked)
  kPermissionDenied,    // a signature or key check failed
  kResourceExhausted,   // a limit was hit (size, count, overload)
  kUnavailable,         // transient: retry later
  kInternal,            // an I/O error or a bug
  kUnimplemented,       // a feature accord does not have yet
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "DataLoss: tile/0/000: ..." — for logs and the command line.
  std::string ToString() const;
  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {Code::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {Code::kNotFound, std::move(m)};
}
inline Status AlreadyExists(std::string m) {
  return {Code::kAlreadyExists, std::move(m)};
}
inline Status DataLoss(std::string m) {
  return {Code::kDataLoss, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {Code::kPermissionDenied, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {Code::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {Code::kUnavailable, std::move(m)};
}
inline Status Internal(std::string m) {
  return {Code::kInternal, std::move(m)};
}
inline Status Unimplemented(std::string m) {
  return {Code::kUnimplemented, std::move(m)};
}

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace accord

#define ACCORD_CONCAT_INNER(a, b) a##b
#define ACCORD_CONCAT(a, b) ACCORD_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): returns the Status of `expr` from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)      \
  do {                             \
    ::accord::Status _st = (expr); \
    if (!_st.ok()) return _st;     \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a Result; returns its Status on error, else assigns.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(ACCORD_CONCAT(_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
