# netdx::sanitizers — ASan + UBSan when NETDX_SANITIZE is on; empty otherwise.
add_library(netdx_sanitizers INTERFACE)
add_library(netdx::sanitizers ALIAS netdx_sanitizers)
if(NETDX_SANITIZE)
  set(_netdx_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(netdx_sanitizers INTERFACE ${_netdx_san})
  target_link_options(netdx_sanitizers INTERFACE ${_netdx_san})
endif()
