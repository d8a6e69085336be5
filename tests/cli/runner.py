#!/usr/bin/env python3
"""Runs one Python test (module.Class.method) and maps the outcome to CTest: 0 passed,
1 failed, 77 skipped (SKIP_RETURN_CODE). `--list` prints every test id, one per line, for
CMake to register each as its own CTest. `--dir DIR` takes the tests from DIR instead of this
folder (tests/conformance uses the same runner)."""
import importlib
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
if sys.argv[1:2] == ["--dir"]:
    HERE = os.path.abspath(sys.argv[2])
    sys.path.insert(0, HERE)
    del sys.argv[1:3]


def all_ids():
    loader = unittest.TestLoader()
    ids = []
    for name in sorted(os.listdir(HERE)):
        if name.startswith("test_") and name.endswith(".py"):
            suite = loader.loadTestsFromName(name[:-3])
            stack = [suite]
            while stack:
                item = stack.pop()
                if isinstance(item, unittest.TestSuite):
                    stack.extend(item)
                else:
                    ids.append(item.id())
    return sorted(ids)


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(all_ids()))
        return 0
    test_id = sys.argv[1]
    suite = unittest.TestLoader().loadTestsFromName(test_id)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if result.failures or result.errors or result.testsRun == 0:
        return 1
    if result.skipped and len(result.skipped) == result.testsRun:
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
