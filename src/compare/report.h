// Reports of `kiln compare`: a console table, JSON, and one self-contained HTML page (inline SVG drawn by
// inline JavaScript from the embedded JSON; no network, no external scripts or fonts). When the charts
// have drawn, the page sets <body data-charts-drawn="N"> (N charts) so a headless browser can check it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/compare.h"

namespace kiln {

/// The console table (and the per-layer ranking, top `top_layers`).
std::string format_console_report(const CompareResult& r, int top_layers = 10);
/// Everything as JSON; non-finite numbers (an exact match's SNR) are null.
nlohmann::json compare_result_to_json(const CompareResult& r);
/// Node names to keep in float: up to `count` layers that add the most error (and add any).
std::vector<std::string> suggested_keep_fp32(const PerLayerResult& p, int count = 3);
/// The self-contained HTML page.
std::string render_html_report(const CompareResult& r);

Status write_json_report(const CompareResult& r, const std::string& path);
Status write_html_report(const CompareResult& r, const std::string& path);

}  // namespace kiln
