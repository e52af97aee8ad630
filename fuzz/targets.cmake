# The fuzz targets, one place: fuzz/CMakeLists.txt builds each with
# libFuzzer (build-fuzz/, `make fuzz`), tests/fuzz/CMakeLists.txt builds its
# replay program for `make test`. Per target: its source in fuzz/, compile
# definitions, link options. The corpus is fuzz/corpus/<name>/, regression
# inputs fuzz/regressions/<name>/, a dictionary fuzz/dict/<name>.dict.

set(PV_FUZZ_TARGETS job_msgpack job_json config retry_after http_header
  southbound order)

set(PV_FUZZ_job_msgpack_SRC fuzz_job.c)
set(PV_FUZZ_job_msgpack_DEFS PV_FUZZ_FORMAT=PV_FMT_MSGPACK)
set(PV_FUZZ_job_json_SRC fuzz_job.c)
set(PV_FUZZ_job_json_DEFS PV_FUZZ_FORMAT=PV_FMT_JSON)
set(PV_FUZZ_config_SRC fuzz_config.c)
set(PV_FUZZ_retry_after_SRC fuzz_retry_after.c)
set(PV_FUZZ_http_header_SRC fuzz_http_header.c)
set(PV_FUZZ_southbound_SRC fuzz_southbound.c)
# The clients' requests go to the target's fake transport, not to curl.
set(PV_FUZZ_southbound_LINK -Wl,--wrap=pv_http_send)
# Order type definitions and their references and conditions
# (jobs/order_fuzz.c: parse, canonical JSON round trip, resolve, evaluate).
set(PV_FUZZ_order_SRC fuzz_order.c)
