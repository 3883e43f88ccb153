# Writes OUT as a header defining VELA_BENCH_BUILD_COMMIT (the short hash of HEAD in SRC, with
# "-dirty" when the tree has changes), rewriting it only when the value changed. Run at every
# build by the vela_bench_commit target, so the binary names the commit it was built from.
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(commit STREQUAL "")
  set(commit "unknown")
elseif(NOT changes STREQUAL "")
  set(commit "${commit}-dirty")
endif()
set(text "#pragma once\n#define VELA_BENCH_BUILD_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
