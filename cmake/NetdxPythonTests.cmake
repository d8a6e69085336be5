# netdx_add_python_tests(<prefix> <dir> [LABEL <label>]): every test method of the Python
# unittest files in <dir> as its own CTest, named <prefix>/<module>.<Class>.<method> (listed
# at configure time by tests/cli/runner.py --list). A skipped test exits 77; tests whose
# class name holds "Paced" or "Serial" (timing-sensitive, or heavy) run alone.
function(netdx_add_python_tests prefix dir)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "LABEL" "")
  set(runner ${PROJECT_SOURCE_DIR}/tests/cli/runner.py)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} ${runner} --dir ${dir} --list
    WORKING_DIRECTORY ${dir}
    OUTPUT_VARIABLE ids
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot list the ${prefix} tests (runner.py --list failed)")
  endif()
  file(GLOB py CONFIGURE_DEPENDS ${dir}/*.py)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${runner} ${py})
  string(REPLACE "\n" ";" ids "${ids}")
  foreach(id IN LISTS ids)
    if(id STREQUAL "")
      continue()
    endif()
    string(REGEX REPLACE "^test_" "" name "${id}")
    add_test(NAME ${prefix}/${name}
      COMMAND ${Python3_EXECUTABLE} ${runner} --dir ${dir} ${id}
      WORKING_DIRECTORY ${dir})
    set_tests_properties(${prefix}/${name} PROPERTIES
      SKIP_RETURN_CODE 77
      TIMEOUT 300
      ENVIRONMENT "NETDX_BIN=${PROJECT_BINARY_DIR}/bin;NETDX_BUILD=${PROJECT_BINARY_DIR};NETDX_SOURCE=${PROJECT_SOURCE_DIR}")
    if(arg_LABEL)
      set_tests_properties(${prefix}/${name} PROPERTIES LABELS ${arg_LABEL})
    endif()
    if(name MATCHES "Paced|Serial")
      set_tests_properties(${prefix}/${name} PROPERTIES RUN_SERIAL TRUE)
    endif()
  endforeach()
endfunction()
