# netdx::warnings — an INTERFACE target carrying the warning set, linked by every netdx target
# instead of global flag strings. NETDX_WERROR turns them into errors (CI does).
# Not -Wnull-dereference: with g++ 12 it fires inside libstdc++'s own <streambuf> at -O2.
add_library(netdx_warnings INTERFACE)
add_library(netdx::warnings ALIAS netdx_warnings)
target_compile_options(netdx_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(NETDX_WERROR)
  target_compile_options(netdx_warnings INTERFACE -Werror)
endif()
