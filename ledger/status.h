// Status and Result<T>: the one error type across every fedledger library boundary.
//
// A Status is OK or carries a Code and a human-readable message that names what is wrong
// ("entry 17: signature does not verify"). Result<T> holds either a value or a non-OK
// Status. Both are [[nodiscard]]: an ignored error is a compile warning.
//
// Exceptions from third-party libraries (Crypto++, Boost, LibTorch, LevelDB's C++ API never
// throws) are caught at the adapter that calls them and converted into a Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fedledger {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad user or network input: malformed, wrong signature, bad flag
    kNotFound,
    kAlreadyExists,
    kCorruption,       // stored or exported data does not verify
    kIOError,
    kPermissionDenied,
    kFailedPrecondition,  // valid input in a state that does not accept it
    kResourceExhausted,
    kUnavailable,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "Corruption: block 12: certificate has 2 of 4 signatures, needs 3".
  std::string ToString() const;
  static const char* CodeName(Code code);

  // Returns a copy whose message is prefixed by `context` ("block 12: " + message).
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  bool operator==(const Status& o) const { return code_ == o.code_ && message_ == o.message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok().
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fedledger

// Early-return helpers. FL_TRY(expr) returns the Status of a failing Status expression;
// FL_ASSIGN(lhs, expr) unwraps a Result or returns its Status.
#define FL_CONCAT_INNER(a, b) a##b
#define FL_CONCAT(a, b) FL_CONCAT_INNER(a, b)
#define FL_TRY(expr)                                  \
  do {                                                \
    ::fedledger::Status fl_status_ = (expr);          \
    if (!fl_status_.ok()) return fl_status_;          \
  } while (0)
#define FL_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                   \
  if (!tmp.ok()) return tmp.status();  \
  lhs = std::move(tmp).value()
#define FL_ASSIGN(lhs, expr) FL_ASSIGN_IMPL(FL_CONCAT(fl_result_, __LINE__), lhs, expr)
