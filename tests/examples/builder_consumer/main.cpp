// build_and_load MODEL.onnx ENGINE.kiln: builds an FP32 engine with kiln::build_engine, then loads it.
#include <kiln/kiln.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  auto report = kiln::build_engine(argv[1], argv[2], kiln::BuildOptions{});
  if (!report.ok()) { std::cerr << report.status().message() << "\n"; return 1; }
  auto engine = kiln::Engine::load(argv[2]);
  if (!engine.ok()) { std::cerr << engine.status().message() << "\n"; return 1; }
  std::cout << "built and loaded " << argv[2] << ": " << (*engine)->inputs().size() << " input(s), "
            << report->engine_bytes << " bytes\n";
  return 0;
}
