# Install rules and the exported CMake package (find_package(kiln)).
#
#   cmake --install build --prefix P   installs
#     P/include/kiln/*.h                       the public API
#     P/lib/libkiln_*.a                        every static library (the internal ones too, for static linking)
#     P/lib/cmake/kiln/kilnConfig.cmake        + kilnConfigVersion.cmake, kilnRuntimeTargets.cmake,
#                                              kilnBuilderTargets.cmake
#     P/bin/kiln                               the command line
#
# Imported targets: kiln::runtime (Engine, ExecutionContext; no protobuf/libonnx) and kiln::builder
# (build_engine; pulls protobuf and libonnx). Libraries are split over two export sets so that a deploy-only
# consumer never needs Protobuf or ONNX installed: kilnRuntimeTargets (what kiln_runtime links) and
# kilnBuilderTargets (kiln_onnx, the passes, the builder).
#
# Every library folder calls kiln_install_library(<target> RUNTIME|BUILDER) once after add_library. A new
# library that kiln_runtime or kiln_builder links must do so too, or `cmake` stops with "requires target ...
# that is not in any export set".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/kiln")

function(kiln_install_library target part)
  if(part STREQUAL "RUNTIME")
    set(export_set kilnRuntimeTargets)
  elseif(part STREQUAL "BUILDER")
    set(export_set kilnBuilderTargets)
  else()
    message(FATAL_ERROR "kiln_install_library(${target} ${part}): part must be RUNTIME or BUILDER")
  endif()
  install(TARGETS ${target} EXPORT ${export_set}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

# Called once from the top-level CMakeLists.txt after every library exists.
function(kiln_install_package)
  # The two public names, also usable inside the tree (examples/ links kiln::runtime either way).
  set_target_properties(kiln_runtime PROPERTIES EXPORT_NAME runtime)
  set_target_properties(kiln_builder PROPERTIES EXPORT_NAME builder)
  add_library(kiln::runtime ALIAS kiln_runtime)
  add_library(kiln::builder ALIAS kiln_builder)

  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h")
  install(TARGETS kiln RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

  install(EXPORT kilnRuntimeTargets NAMESPACE kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR})
  install(EXPORT kilnBuilderTargets NAMESPACE kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kilnConfig.cmake.in
                                ${PROJECT_BINARY_DIR}/kilnConfig.cmake
                                INSTALL_DESTINATION ${KILN_INSTALL_CMAKEDIR})
  # 0.x: a minor version may break the API.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
                                   VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/kilnConfig.cmake ${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
          DESTINATION ${KILN_INSTALL_CMAKEDIR})
endfunction()
