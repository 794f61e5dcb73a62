// The calibration cache: a CalibrationTable in TensorRT's text format, so TensorRT (and ONNX Runtime's TensorRT
// provider) and kiln can read each other's caches.
//
//   TRT-8601-EntropyCalibration2
//   input: 3c010a14
//   onnx::Conv_12: 3d8f0ab9
//   relu_out: 0
//
// * Line 1: `TRT-<version digits>-<Algorithm>`; the version is TensorRT's (8601 = 8.6.1) and is not checked.
// * Then one `<tensor name>: <hex>` line per tensor. hex is the IEEE-754 float32 bit pattern of the scale
//   (amax / 127) as a big-endian number in lower-case hex without leading zeros (0.0125 → 3c4ccccd; a zero
//   scale is `0`), which is how TensorRT prints it. Names may contain ':' (TensorRT's `onnx::Conv_12`), so a
//   line is split at its LAST ':' — hex digits never contain one. Names may contain spaces, not newlines.
// * Reading accepts CRLF line ends and blank lines at the end; it rejects anything else that is malformed
//   (bad header, no ':', empty name, bad hex, negative/NaN/Inf scale, duplicate name) with the line number
//   and the line's text. Writing sorts by name, so the same table always gives the same bytes.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "kiln/status.h"
#include "quant/calibration_table.h"

namespace kiln {

/// The TensorRT version written into headers by default (8.6.1, the last release before implicit
/// quantization was deprecated and the one most caches in the wild come from).
inline constexpr int kCalibrationCacheTrtVersion = 8601;

/// Parses a cache's text. Errors (kInvalidModel) say "line N: <reason>: '<text>'".
Result<CalibrationTable> parse_calibration_cache(std::string_view text);
/// Formats a table; error if the algorithm is empty or not [A-Za-z0-9_]+, a name is empty or contains a line
/// break, or a scale is negative, NaN or Inf.
Result<std::string> format_calibration_cache(const CalibrationTable& table,
                                             int trt_version = kCalibrationCacheTrtVersion);

/// File versions of the two above (kIoError when the file cannot be read or written; parse errors are
/// prefixed with the path).
Result<CalibrationTable> read_calibration_cache(const std::filesystem::path& path);
Status write_calibration_cache(const std::filesystem::path& path, const CalibrationTable& table,
                               int trt_version = kCalibrationCacheTrtVersion);

/// The hex field of a cache line for a scale ("3c4ccccd", "0") and back (1 to 8 hex digits, either case).
std::string scale_to_cache_hex(float scale);
Result<float> scale_from_cache_hex(std::string_view hex);

/// Checks that a cache fits the model being built: every expected tensor has a scale, the cache has no other
/// tensors, and (unless expected_algorithm is empty) the algorithm matches. OK, or kInvalidArgument listing
/// the algorithm mismatch, the missing tensors and the extra tensors (up to 20 names of each, then a count).
Status compare_cache_with_model(const CalibrationTable& table, std::span<const std::string> expected_tensor_names,
                                std::string_view expected_algorithm);

}  // namespace kiln
