# Writes OUT as a header defining VELA_BUILD_VERSION (the project version, passed as VERSION) and
# VELA_BUILD_COMMIT (the short hash of HEAD in SRC, "-dirty" when tracked files changed, "unknown"
# outside a git checkout). Rewrites OUT only when a value changed, so an unchanged commit recompiles
# nothing. Run at every build by the vela_build_info target.
execute_process(COMMAND git rev-parse --short=10 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(commit STREQUAL "")
  set(commit "unknown")
elseif(NOT changes STREQUAL "")
  set(commit "${commit}-dirty")
endif()
set(text "#pragma once\n#define VELA_BUILD_VERSION \"${VERSION}\"\n#define VELA_BUILD_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
