"""`cmake --install` puts binaries, pages and completions where Debian looks for them."""
import os
import subprocess
import tempfile
import unittest

from netdx_test import BUILD, TIMEOUT


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
            ]
            for path in expected:
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
            # Nothing is installed under the name Debian's libnet1-dev owns.
            for root, _dirs, files in os.walk(dest):
                for name in files:
                    self.assertFalse(name.startswith("libnet"), os.path.join(root, name))
            # The installed umbrella finds its tools beside itself.
            r = subprocess.run([os.path.join(dest, "usr/bin/netdx"), "doctor", "--version"], stdout=subprocess.PIPE,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith("netdx-doctor "))


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
            info = subprocess.run(["dpkg-deb", "-f", os.path.join(out, debs[0]), "Package", "Depends"],
                                  stdout=subprocess.PIPE, text=True, timeout=TIMEOUT).stdout
            self.assertIn("Package: netdx", info)
            self.assertIn("libc6", info)  # shlibdeps computed the dependencies
