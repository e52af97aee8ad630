# Finds every third-party library through pkg-config. A missing one stops the
# configure step with the Debian package that provides it, so the fix is one
# apt-get line (`make deps` runs it for you).
find_package(PkgConfig REQUIRED)

function(pv_require_pkg var module debpkg)
  pkg_check_modules(${var} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR
      "provisiond needs ${module} (pkg-config) which is missing.\n"
      "Install it with:  apt-get install ${debpkg}\n"
      "or run `make deps` to install every build dependency.")
  endif()
endfunction()

pv_require_pkg(RDKAFKA   rdkafka       librdkafka-dev)
pv_require_pkg(CURL      libcurl       libcurl4-openssl-dev)
pv_require_pkg(MSGPACK   msgpack       libmsgpack-dev)
pv_require_pkg(PQ        libpq         libpq-dev)
pv_require_pkg(JANSSON   jansson       libjansson-dev)
pv_require_pkg(UV        libuv         libuv1-dev)
pv_require_pkg(INIH      inih          libinih-dev)
pv_require_pkg(MHD       libmicrohttpd libmicrohttpd-dev)
pv_require_pkg(SODIUM    libsodium     libsodium-dev)
if(PV_BUILD_TESTS)
  pv_require_pkg(CRITERION criterion   libcriterion-dev)
endif()
