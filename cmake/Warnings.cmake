# Picky warnings on our own targets only (never global CMAKE_C_FLAGS).
# CI turns them into errors with -DCMAKE_COMPILE_WARNING_AS_ERROR=ON.
set(PV_WARNINGS -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes
  -Wstrict-prototypes -Wvla -Wpointer-arith -Wcast-qual -Wundef
  -Wno-unused-parameter)

function(pv_target_warnings target)
  target_compile_options(${target} PRIVATE ${PV_WARNINGS})
  if(PV_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined
      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()
