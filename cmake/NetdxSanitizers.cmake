# netdx::sanitizers — the sanitizers NETDX_SANITIZE asks for (ON: ASan + UBSan; thread:
# ThreadSanitizer, for the multi-threaded tools); empty otherwise.
add_library(netdx_sanitizers INTERFACE)
add_library(netdx::sanitizers ALIAS netdx_sanitizers)
if(NETDX_SANITIZE STREQUAL "thread")
  set(_netdx_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NETDX_SANITIZE)
  set(_netdx_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
if(_netdx_san)
  target_compile_options(netdx_sanitizers INTERFACE ${_netdx_san})
  target_link_options(netdx_sanitizers INTERFACE ${_netdx_san})
endif()
