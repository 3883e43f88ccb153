# Runs at install time (cmake --install, cpack): installs the settings, the systemd units and the
# log rotation with the paths of the prefix being installed to. With the prefix /usr (the Debian
# package) they are /usr/bin, /etc/vela and /var/lib/vela, /var/log/vela; with any other prefix P,
# P/bin, P/etc/vela and P/var/lib/vela, P/var/log/vela, so installing into a scratch prefix never
# writes outside it. VELA_SOURCE_DIR, VELA_BINDIR and VELA_STAGING are set by cmake/install.cmake.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconfdir /etc)
  set(localstatedir /var)
else()
  set(sysconfdir ${CMAKE_INSTALL_PREFIX}/etc)
  set(localstatedir ${CMAKE_INSTALL_PREFIX}/var)
endif()
set(VELA_BIN ${CMAKE_INSTALL_PREFIX}/${VELA_BINDIR})
set(VELA_CONF ${sysconfdir}/vela)
set(VELA_STATE ${localstatedir}/lib/vela)
set(VELA_LOGS ${localstatedir}/log/vela)
# One staging directory per destination, so that installs running at once do not mix their files.
string(MD5 destination_hash "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(staging ${VELA_STAGING}/${destination_hash})
file(MAKE_DIRECTORY ${staging})

# conf/ with the store and the log files placed for a service.
file(READ ${VELA_SOURCE_DIR}/conf/broker.conf broker_conf)
string(REGEX REPLACE "\nstorePathRootDir = [^\n]*" "\nstorePathRootDir = ${VELA_STATE}/store" broker_conf "${broker_conf}")
string(REGEX REPLACE "\nlogFile =[^\n]*" "\nlogFile = ${VELA_LOGS}/broker.log" broker_conf "${broker_conf}")
file(WRITE ${staging}/broker.conf "${broker_conf}")
file(READ ${VELA_SOURCE_DIR}/conf/namesrv.conf namesrv_conf)
string(REGEX REPLACE "\nlogFile =[^\n]*" "\nlogFile = ${VELA_LOGS}/namesrv.log" namesrv_conf "${namesrv_conf}")
file(WRITE ${staging}/namesrv.conf "${namesrv_conf}")
file(INSTALL ${staging}/broker.conf ${staging}/namesrv.conf DESTINATION ${VELA_CONF}
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(unit vela-namesrv.service vela-broker.service)
  configure_file(${VELA_SOURCE_DIR}/packaging/systemd/${unit}.in ${staging}/${unit} @ONLY)
endforeach()
file(INSTALL ${staging}/vela-namesrv.service ${staging}/vela-broker.service
     DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

configure_file(${VELA_SOURCE_DIR}/packaging/logrotate.in ${staging}/vela @ONLY)
file(INSTALL ${staging}/vela DESTINATION ${sysconfdir}/logrotate.d
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
