// infer — load a .kiln engine, run one image (or .npy tensor) through it, print the top-5 classes.
// Uses only the public API (include/kiln/kiln.h) and links only kiln::runtime (no protobuf, no ONNX).
//
//   infer ENGINE.kiln IMAGE.jpg|INPUT.npy [--labels FILE] [--scale S] [--mean M[,M,M]] [--std S[,S,S]]
//
// An image becomes RGB, is resized (bilinear) to the engine input's H×W and normalized per channel as
// (pixel * scale - mean) / std. Defaults are ImageNet's: scale 1/255, mean 0.485,0.456,0.406, std 0.229,0.224,0.225.
// For "RGB / 127.5 - 1" pass --scale 0.0078431373 --mean 1 --std 1.
#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"

#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

// A float32, little-endian, C-order .npy file: the data, and the shape from its header.
static bool read_npy(const std::string& path, std::vector<float>& data, std::vector<int64_t>& shape) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  uint16_t header_len = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) return false;
  if (!in.read(reinterpret_cast<char*>(&header_len), 2)) return false;
  std::string header(header_len, ' ');
  in.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) return false;
  std::string dims = header.substr(header.find('(') + 1, header.find(')') - header.find('(') - 1);
  std::replace(dims.begin(), dims.end(), ',', ' ');
  std::istringstream ds(dims);
  for (int64_t d; ds >> d;) shape.push_back(d);
  data.resize(std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>()));
  return static_cast<bool>(in.read(reinterpret_cast<char*>(data.data()), data.size() * sizeof(float)));
}

// "a" or "a,b,c" → three per-channel values.
static std::vector<float> three(const std::string& s) {
  std::vector<float> v;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) v.push_back(std::stof(item));
  if (v.size() == 1) v.assign(3, v[0]);
  return v;
}

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  std::string labels_path, scale = "0.00392156863", mean = "0.485,0.456,0.406", stdev = "0.229,0.224,0.225";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string* flag = a == "--labels" ? &labels_path : a == "--scale" ? &scale : a == "--mean" ? &mean
                      : a == "--std" ? &stdev : nullptr;
    if (flag && i + 1 < argc) *flag = argv[++i];
    else if (!flag && a.rfind("--", 0) != 0) pos.push_back(a);
    else { std::cerr << "bad flag " << a << "\n"; return 2; }
  }
  if (pos.size() != 2) {
    std::cerr << "usage: infer ENGINE.kiln IMAGE|INPUT.npy [--labels FILE] [--scale S] [--mean M] [--std S]\n";
    return 2;
  }

  auto engine = kiln::Engine::load(pos[0]);
  if (!engine.ok()) { std::cerr << engine.status().message() << "\n"; return 1; }
  const kiln::TensorInfo& in_info = (*engine)->inputs().at(0);
  const kiln::TensorInfo& out_info = (*engine)->outputs().at(0);

  std::vector<float> input;
  std::vector<int64_t> shape;
  const std::string& file = pos[1];
  if (file.size() > 4 && file.substr(file.size() - 4) == ".npy") {
    if (!read_npy(file, input, shape)) { std::cerr << file << ": not a float32 C-order .npy file\n"; return 1; }
  } else {
    // Image input: [N,3,H,W] or [N,H,W,3]; batch 1 (or the smallest the engine takes), fixed H and W.
    if (in_info.dims.size() != 4) { std::cerr << "input '" << in_info.name << "' is not 4-D\n"; return 1; }
    bool nhwc = in_info.dims[3].max == 3 && in_info.dims[1].max != 3;
    int64_t n = in_info.dims[0].min, h = in_info.dims[nhwc ? 1 : 2].opt, w = in_info.dims[nhwc ? 2 : 3].opt;
    int iw = 0, ih = 0, ic = 0;
    unsigned char* px = stbi_load(file.c_str(), &iw, &ih, &ic, 3);
    if (!px) { std::cerr << file << ": " << stbi_failure_reason() << "\n"; return 1; }
    std::vector<float> m = three(mean), s = three(stdev);
    float sc = std::stof(scale);
    shape = nhwc ? std::vector<int64_t>{n, h, w, 3} : std::vector<int64_t>{n, 3, h, w};
    input.resize(n * 3 * h * w);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        // Bilinear, pixel centres aligned (like cv::resize / PIL without antialiasing).
        float fy = std::clamp((y + 0.5f) * ih / h - 0.5f, 0.f, ih - 1.f), fx = std::clamp((x + 0.5f) * iw / w - 0.5f, 0.f, iw - 1.f);
        int y0 = static_cast<int>(fy), x0 = static_cast<int>(fx), y1 = std::min(y0 + 1, ih - 1), x1 = std::min(x0 + 1, iw - 1);
        float dy = fy - y0, dx = fx - x0;
        for (int c = 0; c < 3; ++c) {
          auto at = [&](int yy, int xx) { return static_cast<float>(px[(yy * iw + xx) * 3 + c]); };
          float v = (at(y0, x0) * (1 - dx) + at(y0, x1) * dx) * (1 - dy) + (at(y1, x0) * (1 - dx) + at(y1, x1) * dx) * dy;
          for (int64_t b = 0; b < n; ++b)  // every batch item gets the same image
            input[nhwc ? ((b * h + y) * w + x) * 3 + c : ((b * 3 + c) * h + y) * w + x] = (v * sc - m[c]) / s[c];
        }
      }
    }
    stbi_image_free(px);
  }

  auto context = (*engine)->create_context();
  if (!context.ok()) { std::cerr << context.status().message() << "\n"; return 1; }
  kiln::Status st = (*context)->set_input(in_info.name, kiln::TensorView::of(input.data(), shape));
  if (st.ok()) st = (*context)->run();
  if (!st.ok()) { std::cerr << st.message() << "\n"; return 1; }
  auto out = (*context)->output(out_info.name);
  if (!out.ok()) { std::cerr << out.status().message() << "\n"; return 1; }
  if (out->dtype != kiln::DataType::kF32) { std::cerr << "output is not f32\n"; return 1; }

  // Scores of the first batch item; softmax unless they already look like probabilities.
  int64_t classes = out->dims.empty() ? 1 : out->dims.back();
  std::vector<float> p(out->as<float>(), out->as<float>() + classes);
  float sum = std::accumulate(p.begin(), p.end(), 0.f);
  if (*std::min_element(p.begin(), p.end()) < 0 || std::fabs(sum - 1) > 1e-3f) {
    float mx = *std::max_element(p.begin(), p.end());
    sum = 0;
    for (float& v : p) sum += (v = std::exp(v - mx));
    for (float& v : p) v /= sum;
  }
  std::vector<std::string> labels;
  std::ifstream lf(labels_path);
  for (std::string line; std::getline(lf, line);) labels.push_back(line);

  std::vector<int> order(classes);
  std::iota(order.begin(), order.end(), 0);
  int k = static_cast<int>(std::min<int64_t>(5, classes));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::cout << "engine " << pos[0] << " (" << kiln::precision_name((*engine)->precision()) << "), input '"
            << in_info.name << "', output '" << out_info.name << "'\n";
  for (int i = 0; i < k; ++i)
    std::printf("%d. %-20s %.4f  (class %d)\n", i + 1, order[i] < static_cast<int>(labels.size()) ? labels[order[i]].c_str() : "-",
                p[order[i]], order[i]);
  return 0;
}
