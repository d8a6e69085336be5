"""`cmake --install` puts binaries, pages and completions where Debian looks for them, and the
library where CMake's find_package finds it; as a subproject netdx builds only the library."""
import glob
import os
import re
import subprocess
import tempfile
import unittest

from netdx_test import BUILD, FIXTURES, SOURCE, TIMEOUT

BUILD_TIMEOUT = 300  # seconds: configuring and building a small consumer project


def cmake(*args, cwd=None, timeout=BUILD_TIMEOUT):
    return subprocess.run(["cmake", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


class Install(unittest.TestCase):
    def test_install_layout(self):
        with tempfile.TemporaryDirectory() as dest:
            r = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], env=dict(os.environ, DESTDIR=dest),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
            expected = [
                "usr/bin/netdx", "usr/bin/netdx-doctor", "usr/bin/netdx-tour", "usr/bin/netdx-echo",
                "usr/bin/netdx-probe", "usr/share/man/man1/netdx-probe.1", "usr/share/man/man1/netdx-echo.1",
                "usr/share/man/man1/netdx.1", "usr/share/man/man1/netdx-doctor.1", "usr/share/man/man7/netdx.7",
                "usr/share/bash-completion/completions/netdx-doctor",
                "usr/share/zsh/vendor-completions/_netdx-doctor",
                "usr/share/fish/vendor_completions.d/netdx-doctor.fish",
                "usr/bin/netdx-merge", "usr/bin/netdx-compare", "usr/share/man/man1/netdx-merge.1",
                "usr/share/netdx/schema/netdx-common.schema.json",
                "usr/share/netdx/schema/netdx-probe.schema.json",
            ]
            for path in expected:
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
            # The library, for find_package(netdx): headers by layer, one archive per layer.
            for path in ["usr/include/netdx/net/socket.hpp", "usr/include/netdx/net/tcp_state.hpp",
                         "usr/include/netdx/inspect/state_selection.hpp", "usr/include/netdx/version.hpp"]:
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
            archives = sorted(os.path.basename(p) for p in glob.glob(os.path.join(dest, "usr/lib/**/*.a"),
                                                                        recursive=True))
            self.assertEqual(archives, sorted(f"libnetdx-{layer}.a" for layer in
                                              ["sys", "net", "measure", "inspect", "capture", "service", "report"]))
            self.assertEqual(len(glob.glob(os.path.join(dest, "usr/lib/**/cmake/netdx/netdxConfig.cmake"),
                                        recursive=True)), 1)
            # Nothing is installed under the names Debian's libnet1-dev owns (libnet.a, libnet.h, libnet/).
            for root, dirs, files in os.walk(dest):
                for name in files + dirs:
                    self.assertIsNone(re.fullmatch(r"libnet(\.(a|h|so.*))?", name), os.path.join(root, name))
            # The installed umbrella finds its tools beside itself.
            r = subprocess.run([os.path.join(dest, "usr/bin/netdx"), "doctor", "--version"], stdout=subprocess.PIPE,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith("netdx-doctor "))


class FindPackage(unittest.TestCase):
    def test_a_program_outside_netdx_builds_against_the_installed_library(self):
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "prefix")
            r = cmake("--install", BUILD, "--prefix", prefix, "--component", "netdx_development")
            self.assertEqual(r.returncode, 0, r.stdout)
            # Only the library: the tools are another component.
            self.assertFalse(os.path.exists(os.path.join(prefix, "bin")))
            build = os.path.join(tmp, "build")
            r = cmake("-S", os.path.join(FIXTURES, "consumer"), "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}")
            self.assertEqual(r.returncode, 0, r.stdout)
            r = cmake("--build", build, "-j", "2")
            self.assertEqual(r.returncode, 0, r.stdout)
            out = subprocess.run([os.path.join(build, "consumer")], stdout=subprocess.PIPE, text=True,
                                 timeout=TIMEOUT)
            self.assertEqual(out.returncode, 0)
            # 1..1000 us: the median is 500 us, exactly representable at three significant digits.
            self.assertEqual(out.stdout, "[::1]:7 1.5ms 500 0.1.0\n")

    def test_an_older_minor_version_is_refused(self):
        # 0.x: a minor version may break the API, so asking for 0.0 must not find 0.1.
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "prefix")
            self.assertEqual(cmake("--install", BUILD, "--prefix", prefix, "--component",
                                   "netdx_development").returncode, 0)
            src = os.path.join(tmp, "src")
            os.mkdir(src)
            with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
                f.write("cmake_minimum_required(VERSION 3.25)\nproject(p LANGUAGES CXX)\n"
                        "find_package(netdx 0.0 CONFIG REQUIRED)\n")
            r = cmake("-S", src, "-B", os.path.join(tmp, "build"), f"-DCMAKE_PREFIX_PATH={prefix}")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("0.1.0", r.stdout)


class Subproject(unittest.TestCase):
    def test_as_a_subproject_netdx_is_the_library_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            build = os.path.join(tmp, "build")
            r = cmake("-S", os.path.join(FIXTURES, "subproject"), "-B", build, f"-DNETDX_SOURCE={SOURCE}",
                      "-DCMAKE_BUILD_TYPE=Release")
            self.assertEqual(r.returncode, 0, r.stdout)
            with open(os.path.join(build, "CMakeCache.txt")) as f:
                cache = dict(re.findall(r"^(NETDX_[A-Z_]+):BOOL=(\w+)$", f.read(), re.M))
            for option in ["NETDX_BUILD_TOOLS", "NETDX_BUILD_TESTS", "NETDX_BUILD_DOCS", "NETDX_BUILD_BENCH",
                           "NETDX_FUZZ", "NETDX_INSTALL"]:
                self.assertEqual(cache.get(option), "OFF", option)
            targets = cmake("--build", build, "--target", "help").stdout
            self.assertIn("consumer", targets)
            self.assertIn("netdx_layer_net", targets)
            for absent in ["netdx-echo", "netdx_unit_tests", "netdx_man", "floor_pingpong"]:
                self.assertNotIn(absent, targets)
            # No install rules of netdx's own: the parent project decides what it installs.
            scripts = glob.glob(os.path.join(build, "netdx", "**", "cmake_install.cmake"), recursive=True)
            self.assertTrue(scripts)
            for script in scripts:
                with open(script) as f:
                    self.assertNotIn("file(INSTALL", f.read(), script)


class Package(unittest.TestCase):
    def test_cpack_builds_a_deb_with_everything(self):
        import shutil
        if shutil.which("dpkg-deb") is None:
            self.skipTest("dpkg-deb is not installed")
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            debs = [f for f in os.listdir(out) if f.endswith(".deb")]
            self.assertEqual(len(debs), 1, os.listdir(out))
            listing = subprocess.run(["dpkg-deb", "-c", os.path.join(out, debs[0])], stdout=subprocess.PIPE,
                                     text=True, timeout=TIMEOUT).stdout
            for path in ["./usr/bin/netdx-doctor", "./usr/share/man/man7/netdx.7",
                         "./usr/share/zsh/vendor-completions/_netdx-doctor"]:
                self.assertIn(path, listing)
            # The tools' package: the library's headers, archives and CMake files are not in it.
            self.assertNotIn("./usr/include/", listing)
            self.assertNotIn(".a\n", listing)
            self.assertNotIn("/cmake/netdx/", listing)
            info = subprocess.run(["dpkg-deb", "-f", os.path.join(out, debs[0]), "Package", "Depends"],
                                  stdout=subprocess.PIPE, text=True, timeout=TIMEOUT).stdout
            self.assertIn("Package: netdx", info)
            self.assertIn("libc6", info)  # shlibdeps computed the dependencies
