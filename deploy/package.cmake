# Install rules and the Debian package (cpack -G DEB in build/).
# Layout: daemons in sbin, tools in bin, /etc/mailroom/mailroom.ini as a
# conffile, calendars in /usr/share/mailroom/calendars and the office's own
# in /etc/mailroom/calendars ([router] local_calendars), state in
# /var/lib/mailroom (0700, made by postinst and systemd's StateDirectory=),
# the units in /lib/systemd/system, man pages gzipped.
include(GNUInstallDirs)

set(MR_DAEMONS mailroom-router mailroom-gateway mailroom-hotline mailroom-notify)
set(MR_TOOLS mailroom-handler mailroom-audit mailroom-admin)
install(TARGETS ${MR_DAEMONS} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS ${MR_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The packaged mailroom.ini is deploy/mailroom.ini with absolute paths, so
# the demo file stays right for deploy/run.sh and the two never drift.
file(READ ${CMAKE_SOURCE_DIR}/deploy/mailroom.ini MR_INI)
string(REPLACE "; Mailroom configuration. Every setting shown is the built-in default, so\n; this file documents them; change what your office needs. Paths are\n; relative to the directory the processes are started in."
               "; Mailroom configuration. Every setting shown is the built-in default\n; (paths are this package's), so this file documents them; change what\n; your office needs, then: systemctl reload mailroom-router mailroom-gateway\n; (man mailroom.ini: what a reload takes, what needs a restart).\n; The README.md files named below are in the source tree; the calendars'\n; is /usr/share/mailroom/calendars/README.md, the operator's guide is\n; docs/operations.md."
               MR_INI "${MR_INI}")
string(REPLACE "deploy/calendars/README.md" "/usr/share/mailroom/calendars/README.md" MR_INI "${MR_INI}")
string(REPLACE "= ./var/calendars" "= /etc/mailroom/calendars" MR_INI "${MR_INI}")
string(REPLACE "ipc://./var/" "ipc:///var/lib/mailroom/" MR_INI "${MR_INI}")
string(REPLACE "./var/" "/var/lib/mailroom/" MR_INI "${MR_INI}")
string(REPLACE "= ./deploy/calendars" "= /usr/share/mailroom/calendars" MR_INI "${MR_INI}")
string(REPLACE "= ./deploy/notices" "= /etc/mailroom/notices" MR_INI "${MR_INI}")
string(REPLACE "(the shipped ones: deploy/notices)" "(the shipped ones: /etc/mailroom/notices)" MR_INI "${MR_INI}")
string(REPLACE "mailroom-router -c mailroom.ini keygen" "mailroom-router -c /etc/mailroom/mailroom.ini keygen" MR_INI "${MR_INI}")
if(MR_INI MATCHES "\\./var|\\./deploy|relative to the directory")
  message(FATAL_ERROR "deploy/package.cmake: a relative path is left in the packaged mailroom.ini")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/pkg/mailroom.ini "${MR_INI}")
install(FILES ${CMAKE_BINARY_DIR}/pkg/mailroom.ini DESTINATION /etc/mailroom)
install(DIRECTORY DESTINATION /etc/mailroom/calendars)
# The notice templates, the office's to edit: conffiles, like mailroom.ini.
file(GLOB MR_NOTICES ${CMAKE_SOURCE_DIR}/deploy/notices/*.txt)
install(FILES ${MR_NOTICES} DESTINATION /etc/mailroom/notices)

file(GLOB MR_CALS ${CMAKE_SOURCE_DIR}/deploy/calendars/*.cal)
install(FILES ${MR_CALS} ${CMAKE_SOURCE_DIR}/deploy/calendars/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/mailroom/calendars)
install(FILES deploy/systemd/mailroom-router.service deploy/systemd/mailroom-gateway.service
              deploy/systemd/mailroom-hotline.service deploy/systemd/mailroom-notify.service
        DESTINATION /lib/systemd/system)
install(FILES deploy/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
configure_file(deploy/debian/changelog.in ${CMAKE_BINARY_DIR}/pkg/changelog @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/pkg/changelog.gz
  COMMAND gzip -9n -c ${CMAKE_BINARY_DIR}/pkg/changelog > ${CMAKE_BINARY_DIR}/pkg/changelog.gz
  DEPENDS ${CMAKE_BINARY_DIR}/pkg/changelog)
install(FILES ${CMAKE_BINARY_DIR}/pkg/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages: docs/man/NAME.SECTION.scd through scdoc, gzipped.
find_program(SCDOC scdoc)
file(GLOB MR_MAN_SRC ${CMAKE_SOURCE_DIR}/docs/man/*.scd)
set(MR_PKG_OUT ${CMAKE_BINARY_DIR}/pkg/changelog.gz)
foreach(src ${MR_MAN_SRC})
  get_filename_component(page ${src} NAME_WLE)        # mailroom-router.8
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" sec ${page})
  set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
  if(SCDOC)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND sh -c "${SCDOC} < '${src}' > '${out}.tmp' && gzip -9n < '${out}.tmp' > '${out}' && rm '${out}.tmp'"
      DEPENDS ${src} VERBATIM)
    list(APPEND MR_PKG_OUT ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
  endif()
endforeach()
add_custom_target(mailroom-pkg-files ALL DEPENDS ${MR_PKG_OUT})
if(NOT SCDOC)
  message(WARNING "scdoc not found (deploy/setup.sh installs it): no man pages")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mailroom)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Mailroom maintainers <mailroom@example.gov.cn>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "government office mailroom with a signed audit log")
set(CPACK_PACKAGE_DESCRIPTION "Mailroom receives citizens' messages for a government office,\nroutes them to departments, computes legal reply deadlines on the\nofficial working-day calendar and records every state change in a\nsigned Merkle audit log. This package holds the router, the HTTP\ngateway, the 12345 connector, the notice sender, the handler, audit and admin tools,\nhardened systemd units and man pages.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libsqlite3-0 (its FTS5) holds the router's search index in memory;
# shlibdeps finds it too, the floor is the FTS5 API the index uses.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libsqlite3-0 (>= 3.40)")
# The virus scanner for citizens' attachments ([attachments] clamd).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "clamav-daemon")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://mailroom.example.gov.cn/")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
    ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Package files owned by root with Debian's modes, not the builder's.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_STRIP_FILES ON)
include(CPack)
