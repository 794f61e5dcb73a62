// kiln/status.h — errors as values.
//
// Every fallible function of kiln's library API returns a `Status` (no value) or a `Result<T>` (a value or
// an error). Nothing in the public API throws; user input never aborts the process.
//
//   kiln::Result<kiln::Graph> graph = kiln::import_onnx("model.onnx");
//   if (!graph.ok()) { std::cerr << graph.status().message() << "\n"; return 1; }
//   use(*graph);
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace kiln {

/// What kind of failure a Status describes; the message says the specifics.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  ///< The caller passed something malformed (a flag, a shape, a file name).
  kNotFound,         ///< A file, tensor or node that was named does not exist.
  kInvalidModel,     ///< The model or engine file is malformed or inconsistent.
  kUnsupported,      ///< Valid input that kiln cannot handle (an op, a dtype, an opset).
  kShapeMismatch,    ///< A tensor's shape or dtype differs from what was expected.
  kIoError,          ///< Reading or writing a file failed.
  kInternal,         ///< A bug in kiln: please report it.
};

/// Returns a short name for an error code ("invalid argument", ...).
const char* error_code_name(ErrorCode code);

/// The outcome of an operation that returns no value: OK, or an error code with a message.
class [[nodiscard]] Status {
 public:
  /// An OK status.
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  static Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Status invalid_model(std::string m) { return {ErrorCode::kInvalidModel, std::move(m)}; }
  static Status unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
  static Status shape_mismatch(std::string m) { return {ErrorCode::kShapeMismatch, std::move(m)}; }
  static Status io_error(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
  static Status internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  /// Human-readable description; empty when OK.
  const std::string& message() const { return message_; }

  /// Returns a copy whose message is prefixed with `context + ": "` (no-op for OK).
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return {code_, context + ": " + message_};
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

/// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::internal("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace kiln

#define KILN_CONCAT_INNER_(a, b) a##b
#define KILN_CONCAT_(a, b) KILN_CONCAT_INNER_(a, b)

/// Returns the Status from the enclosing function if `expr` is not OK.
#define KILN_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::kiln::Status kiln_status_ = (expr);       \
    if (!kiln_status_.ok()) return kiln_status_; \
  } while (0)

/// `KILN_ASSIGN_OR_RETURN(auto x, f());` — unwraps a Result or returns its Status.
/// It expands to several statements: inside an `if` or a loop, always use braces.
#define KILN_ASSIGN_OR_RETURN(lhs, expr) KILN_ASSIGN_OR_RETURN_IMPL_(KILN_CONCAT_(kiln_result_, __COUNTER__), lhs, expr)
#define KILN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
