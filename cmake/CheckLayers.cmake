# Runs cmake/check-layers.sh as a build step: a production file that
# includes a header of a layer it must not know about, or a library's header
# outside the one layer that wraps that library, fails the build with the
# file, the line and the rule (docs/architecture.md, "Modules").
set(_pv_layer_globs "")
foreach(layer common jobs config transports kafka db worker cli)
  list(APPEND _pv_layer_globs ${CMAKE_SOURCE_DIR}/${layer}/*.c
    ${CMAKE_SOURCE_DIR}/${layer}/*.h)
endforeach()
file(GLOB _pv_layer_sources CONFIGURE_DEPENDS ${_pv_layer_globs})
set(_pv_layer_stamp ${CMAKE_BINARY_DIR}/layers.checked)
add_custom_command(OUTPUT ${_pv_layer_stamp}
  COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/check-layers.sh ${CMAKE_SOURCE_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${_pv_layer_stamp}
  DEPENDS ${_pv_layer_sources} ${CMAKE_SOURCE_DIR}/cmake/check-layers.sh
  COMMENT "Checking layer boundaries"
  VERBATIM)
add_custom_target(pv_check_layers ALL DEPENDS ${_pv_layer_stamp})
