# SPDX-License-Identifier: MIT
# Installation of the man page and copyright files, and CPack's Debian
# packages (`cpack -G DEB` in a build directory):
#   smtpreply                    the CLI, its man page
#   smtpreply-wireshark-plugin   the plugin, in the system plugin folder of
#                                the Wireshark it was built for; depends on
#                                that Wireshark's libwireshark ABI package
# Included last by the top-level CMakeLists.txt.
include(GNUInstallDirs)

# Man pages, compressed as Debian installs them.
set(smtpreply_man_pages smtpreply.1)
foreach(page ${smtpreply_man_pages})
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                     COMMAND gzip -9 -n -c ${CMAKE_SOURCE_DIR}/man/${page}
                             > ${CMAKE_BINARY_DIR}/man/${page}.gz
                     DEPENDS ${CMAKE_SOURCE_DIR}/man/${page} VERBATIM)
  list(APPEND smtpreply_man_gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(smtpreply_man ALL DEPENDS ${smtpreply_man_gz})
install(FILES ${smtpreply_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT cli)

# /usr/share/doc/PACKAGE/copyright (Debian's machine-readable format).
set(SMTPREPLY_COPYRIGHT_COMMENT "smtpreply is MIT-licensed (the LICENSE file of its source).")
configure_file(${CMAKE_CURRENT_LIST_DIR}/copyright.in ${CMAKE_BINARY_DIR}/copyright/cli/copyright
               @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/copyright/cli/copyright
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/smtpreply COMPONENT cli)

set(CPACK_PACKAGE_NAME smtpreply)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The smtpreply authors")
set(CPACK_PACKAGE_CONTACT "The smtpreply authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SMTP reply code analyzer")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# dpkg-shlibdeps fills in the shared libraries each binary needs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME smtpreply)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION net)
# The first line is the summary.
set(CPACK_DEBIAN_CLI_DESCRIPTION
    "SMTP reply code analyzer for packet captures\n\
smtpreply tallies SMTP reply codes per session in pcap and pcapng captures,\n\
explains reply codes and RFC 3463 enhanced status codes, lists its\n\
knowledge base and annotates plain-text SMTP dialogues.")
set(CPACK_COMPONENTS_ALL cli)

if(TARGET smtpreply_plugin)
  set(SMTPREPLY_COPYRIGHT_COMMENT
      "The source is MIT-licensed (the LICENSE file of its source).\n \
The plugin binary links libwireshark, which is GPL-2.0-or-later: the plugin\n \
as loaded into Wireshark is a combined work, distributed under the terms of\n \
the GNU General Public License version 2 or later; the MIT licence is\n \
compatible with them. On Debian systems the GPL version 2 is in\n \
/usr/share/common-licenses/GPL-2.")
  configure_file(${CMAKE_CURRENT_LIST_DIR}/copyright.in
                 ${CMAKE_BINARY_DIR}/copyright/plugin/copyright @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/copyright/plugin/copyright
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/smtpreply-wireshark-plugin
          COMPONENT plugin)

  # Wireshark loads a plugin only into the minor version it was built for:
  # depend on the package of the very libwireshark (its ABI: libwireshark16
  # is 4.0, libwireshark18 4.4, ...), read from dpkg where there is one.
  set(smtpreply_ws_abi_pkg "")
  get_target_property(epan_configs epan IMPORTED_CONFIGURATIONS)
  foreach(cfg ${epan_configs} NOCONFIG)
    get_target_property(epan_lib epan IMPORTED_LOCATION_${cfg})
    if(epan_lib)
      break()
    endif()
  endforeach()
  find_program(SMTPREPLY_DPKG dpkg-query)
  if(epan_lib AND SMTPREPLY_DPKG)
    file(REAL_PATH "${epan_lib}" epan_real)
    execute_process(COMMAND dpkg-query -S "${epan_real}"
                    OUTPUT_VARIABLE dpkg_out ERROR_QUIET RESULT_VARIABLE dpkg_rc)
    if(dpkg_rc EQUAL 0 AND dpkg_out MATCHES "^([a-z0-9.+-]+)(:[a-z0-9]+)?: ")
      set(smtpreply_ws_abi_pkg "${CMAKE_MATCH_1}")
    endif()
  endif()
  set(CPACK_DEBIAN_PLUGIN_PACKAGE_NAME smtpreply-wireshark-plugin)
  set(CPACK_DEBIAN_PLUGIN_PACKAGE_SECTION net)
  if(smtpreply_ws_abi_pkg)
    message(STATUS "smtpreply: the plugin package depends on ${smtpreply_ws_abi_pkg}")
    set(CPACK_DEBIAN_PLUGIN_PACKAGE_DEPENDS "${smtpreply_ws_abi_pkg}")
  endif()
  set(CPACK_DEBIAN_PLUGIN_PACKAGE_RECOMMENDS "tshark | wireshark")
  set(CPACK_DEBIAN_PLUGIN_DESCRIPTION
      "SMTP reply analysis for Wireshark ${Wireshark_MAJOR_VERSION}.${Wireshark_MINOR_VERSION}\n\
The SMTP Reply Analysis plugin (filter name smtpreply) adds each SMTP\n\
reply's meaning, enhanced status code, the command it answers,\n\
request/response links, expert info and a statistics tree to Wireshark\n\
and tshark.")
  list(APPEND CPACK_COMPONENTS_ALL plugin)
endif()

include(CPack)
