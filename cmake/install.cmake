# Installation and packaging (issue 16): `cmake --install` lays out the daemons, the tools, conf/,
# systemd units, log rotation and the SDK (a shared and a static library, each carrying Vela's
# internal parts, public headers only from include/vela, a CMake package and a pkg-config file);
# CPack makes the Debian packages vela-broker and libvela-client-dev from the same rules.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# `cmake --install` and cpack package what is built; they never start a build of everything.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# --- the SDK: libvela-client.so and libvela-client.a, one library each for the user to link ---
set(VELA_SDK_PARTS vela_client vela_common vela_net vela_proto vela_filter)
set_target_properties(${VELA_SDK_PARTS} PROPERTIES POSITION_INDEPENDENT_CODE ON)

file(WRITE ${PROJECT_BINARY_DIR}/sdk/vela_client_library.cc
     "// libvela-client: the objects come from the SDK's static parts (cmake/install.cmake).\n")
add_library(vela_client_shared SHARED ${PROJECT_BINARY_DIR}/sdk/vela_client_library.cc)
target_link_libraries(vela_client_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,vela_client>")
set_target_properties(vela_client_shared PROPERTIES
  OUTPUT_NAME vela-client EXPORT_NAME client
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/sdk)
target_include_directories(vela_client_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(vela_client_shared INTERFACE cxx_std_20)
add_library(vela::client_shared ALIAS vela_client_shared)

set(VELA_SDK_OBJECTS)
foreach(part ${VELA_SDK_PARTS})
  list(APPEND VELA_SDK_OBJECTS $<TARGET_OBJECTS:${part}>)
endforeach()
add_library(vela_client_static STATIC ${VELA_SDK_OBJECTS})
set_target_properties(vela_client_static PROPERTIES
  OUTPUT_NAME vela-client EXPORT_NAME client_static ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/sdk)
target_link_libraries(vela_client_static INTERFACE
  spdlog::spdlog fmt::fmt protobuf::libprotobuf Threads::Threads)
target_include_directories(vela_client_static INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(vela_client_static INTERFACE cxx_std_20)
add_custom_target(vela_sdk DEPENDS vela_client_shared vela_client_static)

install(TARGETS vela_client_shared EXPORT VelaTargets COMPONENT sdk
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS vela_client_static EXPORT VelaStaticTargets COMPONENT sdk
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# `--strip` and CPack strip executables and shared libraries; the archive's debug sections too.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND ${CMAKE_STRIP} --strip-debug
                  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:vela_client_static>\")
endif()" COMPONENT sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vela DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT sdk FILES_MATCHING PATTERN "*.h")
set(VELA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Vela)
install(EXPORT VelaTargets NAMESPACE vela:: DESTINATION ${VELA_CMAKE_DIR} COMPONENT sdk)
install(EXPORT VelaStaticTargets NAMESPACE vela:: DESTINATION ${VELA_CMAKE_DIR} COMPONENT sdk)
configure_package_config_file(${PROJECT_SOURCE_DIR}/packaging/VelaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/sdk/VelaConfig.cmake INSTALL_DESTINATION ${VELA_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sdk/VelaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sdk/VelaConfig.cmake ${PROJECT_BINARY_DIR}/sdk/VelaConfigVersion.cmake
        DESTINATION ${VELA_CMAKE_DIR} COMPONENT sdk)
# pkg-config: the prefix is found from the .pc file's own place, so the tree can be moved.
file(RELATIVE_PATH VELA_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/packaging/vela-client.pc.in ${PROJECT_BINARY_DIR}/sdk/vela-client.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sdk/vela-client.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)

# --- the daemons and tools, conf/, systemd units, log rotation ---
set(VELA_INSTALLED_BINARIES vela-namesrv vela-broker vela-admin vela-store)
if(TARGET vela-bench)
  list(APPEND VELA_INSTALLED_BINARIES vela-bench)
endif()
install(TARGETS ${VELA_INSTALLED_BINARIES} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT broker)
# Paths that depend on where the tree is installed (/usr: /etc and /var; any other prefix: PREFIX/etc
# and PREFIX/var) are decided at install time, so one build serves `cmake --install --prefix DIR`
# and the Debian package alike.
install(CODE "set(VELA_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
set(VELA_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(VELA_STAGING \"${PROJECT_BINARY_DIR}/install_staging\")" COMPONENT broker)
install(SCRIPT ${PROJECT_SOURCE_DIR}/packaging/install_system_files.cmake COMPONENT broker)

# --- Debian packages: `cpack -G DEB` in the build directory ---
set(CPACK_PACKAGE_NAME vela)
set(CPACK_PACKAGE_VENDOR "Vela")
set(CPACK_PACKAGE_CONTACT "Vela maintainers <vela@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Vela: a RocketMQ-like message broker")
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL broker sdk)
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Install with DESTDIR and the real prefix, so the install-time paths above are /usr, /etc, /var.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Debug information would make the packages ten times larger (and slow to compress).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/vela")
set(CPACK_DEBIAN_BROKER_PACKAGE_NAME vela-broker)
set(CPACK_DEBIAN_BROKER_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_BROKER_PACKAGE_RECOMMENDS "logrotate, systemd")
set(CPACK_COMPONENT_BROKER_DESCRIPTION "Vela message broker: vela-namesrv, vela-broker, vela-admin, vela-bench
 The name server and the broker with systemd units (vela-namesrv.service, vela-broker.service)
 running as the user vela, the store under /var/lib/vela, settings in /etc/vela and log rotation.")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_SDK_PACKAGE_NAME libvela-client-dev)
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_SDK_PACKAGE_SHLIBDEPS ON)
# The static library and the CMake package's vela::client_static need these at link time.
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "libspdlog-dev, libfmt-dev, libprotobuf-dev")
set(CPACK_COMPONENT_SDK_DESCRIPTION "Vela C++ SDK: libvela-client (shared and static), headers, CMake package
 find_package(Vela) gives vela::client (shared) and vela::client_static; pkg-config vela-client.")
include(CPack)
