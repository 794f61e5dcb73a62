// Writes a kiln compare HTML report from a hand-made result (three engines, timing, labels, per-layer), so
// the page can be rendered in a headless browser without models or data. Usage: make_sample_report OUT.html
#include <algorithm>
#include <iostream>

#include "compare/report.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_sample_report OUT.html\n";
    return 2;
  }
  kiln::CompareResult r;
  r.data_description = "10000 images from IDX file t10k-images-idx3-ubyte.gz </script> <b>not bold</b>";
  r.samples = 500;
  r.has_labels = true;
  r.input = "input: f32[N,1,28,28]";
  r.output = "logits";
  const char* names[] = {"model_fp32.kiln", "model_fp16.kiln", "model_int8.kiln"};
  const char* precisions[] = {"fp32", "fp16", "int8"};
  for (int i = 0; i < 3; ++i) {
    kiln::EngineResult e;
    e.path = std::string("engines/") + names[i];
    e.precision = precisions[i];
    e.file_bytes = 1600000 >> i;
    e.samples = 500;
    e.top1 = 0.91 - 0.01 * i;
    e.top5 = 0.99;
    e.top1_agreement = i == 0 ? 1.0 : 0.99 - 0.02 * i;
    kiln::ErrorAccumulator acc;
    acc.add(1.0f, i == 0 ? 1.0f : 1.0f + 0.01f * static_cast<float>(i));
    e.output_errors.push_back({"logits", acc.stats()});
    e.timing = {true, 1, 50, 2.0 + i, 2.5 + i, 2.1 + i, 16, 16, 5, 900.0 / (i + 1)};
    r.engines.push_back(e);
  }
  kiln::PerLayerResult p;
  p.reference = "engines/model_fp32.kiln";
  p.candidate = "engines/model_int8.kiln";
  p.samples = 8;
  p.reference_values = 12;
  for (int i = 0; i < 10; ++i) {
    kiln::LayerError l;
    l.value = "conv" + std::to_string(i) + "_out";
    l.candidate_value = l.value + "_quantized";
    l.candidate_dtype = "i8";
    l.node = "/features/conv" + std::to_string(i) + "/Conv";
    l.op_type = "kiln.QConv";
    l.position = i;
    l.error = 0.01 * (i + 1) + (i == 6 ? 0.2 : 0);
    l.input_error = i == 0 ? 0 : 0.01 * i;
    l.added = l.error - l.input_error;
    p.layers.push_back(l);
  }
  std::sort(p.layers.begin(), p.layers.end(), [](const auto& a, const auto& b) { return a.added > b.added; });
  r.per_layer = p;
  kiln::Status s = kiln::write_html_report(r, argv[1]);
  if (!s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  return 0;
}
