# What `cmake --install` lays out (GNUInstallDirs), and the .deb of
# `cpack -G DEB`. Every path is relative to the prefix chosen at install time
# (`cmake --install build --prefix DIR` works): gpumem run finds the library
# from bindir, gpumem.pc from ${pcfiledir}, the Python package the binary from
# its own directory.
include(CMakePackageConfigHelpers)

set(GPUMEM_INSTALL_PYTHONDIR "lib/python3/dist-packages" CACHE STRING
  "where the Python package gpumem goes, relative to the prefix (Debian's python3 reads /usr/lib/python3/dist-packages)")
set(GPUMEM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/gpumem")

# the library (+ soname links), its header and the segment ABI
install(TARGETS gpumem EXPORT gpumemTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/gpumem.h include/gpumem_shm.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# find_package(gpumem): gpumem::gpumem and its include directory
install(EXPORT gpumemTargets NAMESPACE gpumem:: DESTINATION ${GPUMEM_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/gpumemConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/gpumemConfig.cmake
  INSTALL_DESTINATION ${GPUMEM_INSTALL_CMAKEDIR} PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/gpumemConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gpumemConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/gpumemConfigVersion.cmake
  DESTINATION ${GPUMEM_INSTALL_CMAKEDIR})

# pkg-config: prefix from the .pc file's own place, so any --prefix works
file(RELATIVE_PATH GPUMEM_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" GPUMEM_PC_TO_PREFIX "${GPUMEM_PC_TO_PREFIX}")
configure_file(cmake/gpumem.pc.in ${CMAKE_CURRENT_BINARY_DIR}/gpumem.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gpumem.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# man pages, bash completion, documents
install(FILES doc/gpumem.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES doc/libgpumem.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)
install(FILES doc/gpumem.bash-completion DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME gpumem)
install(FILES README.md BENCHMARKS.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# the Python package, with the path from it to the gpumem binary
install(FILES python/gpumem/__init__.py python/gpumem/__main__.py python/gpumem/_abi.py
  DESTINATION ${GPUMEM_INSTALL_PYTHONDIR}/gpumem)
file(RELATIVE_PATH GPUMEM_PY_TO_BIN ${CMAKE_INSTALL_PREFIX}/${GPUMEM_INSTALL_PYTHONDIR}/gpumem
  ${CMAKE_INSTALL_FULL_BINDIR}/gpumem)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/python/_where.py
  "# Written by cmake/install.cmake: the gpumem binary, relative to this package.\nBIN = \"${GPUMEM_PY_TO_BIN}\"\n")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/python/_where.py DESTINATION ${GPUMEM_INSTALL_PYTHONDIR}/gpumem)

# ---- cpack -G DEB ----------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpumem)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gpumem maintainers <gpumem@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GPU memory reserved per process and device, live, with no code change")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS python3)
find_program(GPUMEM_PATH_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(GPUMEM_PATH_DPKG_SHLIBDEPS)
  # computed from the binaries (dpkg-dev): libc6, libncursesw6, libtinfo6, ...
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), libncursesw6, libtinfo6")
  if(GPUMEM_HAVE_SERVE) # gpumem links libmicrohttpd.so.12
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libmicrohttpd12")
  endif()
endif()
include(CPack)
