"""The library's layers are enforced by the build: a source of one layer, compiled exactly as the
build compiles it (compile_commands.json), finds the headers of the layers it may use and not
those of any other. The rule comes from DESIGN.md, not from the build files it checks."""
import concurrent.futures
import json
import os
import shlex
import subprocess
import tempfile
import unittest

from netdx_test import BUILD, SOURCE, TIMEOUT

# What each layer may include (besides itself), transitively closed below. capture/ and
# inspect/ are siblings: the TCP state enum both speak of lives in net/.
MAY_USE = {
    "sys": set(),
    "net": {"sys"},
    "measure": {"sys"},
    "inspect": {"net"},
    "capture": {"net"},
    "service": {"net"},
    "report": {"sys"},
}
# One light public header per layer, to probe with.
PROBE = {
    "sys": "sys/clock.hpp",
    "net": "net/ip_address.hpp",
    "measure": "measure/pacer.hpp",
    "inspect": "inspect/tcp_socket.hpp",
    "capture": "capture/conn_state.hpp",
    "service": "service/echo_server.hpp",
    "report": "report/units.hpp",
}


def closure(layer):
    out, todo = set(), list(MAY_USE[layer])
    while todo:
        d = todo.pop()
        if d not in out:
            out.add(d)
            todo.extend(MAY_USE[d])
    return out


def compile_command_of(layer):
    """The build's own command for one source file of the layer, as an argument list without its
    source, output and -c."""
    with open(os.path.join(BUILD, "compile_commands.json")) as f:
        entries = json.load(f)
    prefix = os.path.join(SOURCE, "libnet", "src", layer) + os.sep
    for e in entries:
        if e["file"].startswith(prefix):
            args = shlex.split(e["command"])
            out = []
            skip = False
            for a in args:
                if skip:
                    skip = False
                    continue
                if a == "-o":
                    skip = True
                    continue
                if a == "-c" or a == e["file"]:
                    continue
                out.append(a)
            return out, e["directory"]
    raise AssertionError(f"no source of layer {layer} in compile_commands.json")


class Layers(unittest.TestCase):
    def test_the_design_names_every_layer_the_build_has(self):
        layers = sorted(os.listdir(os.path.join(SOURCE, "libnet", "include", "netdx")))
        self.assertEqual(sorted(d for d in layers if not d.endswith(".in")), sorted(MAY_USE))

    def test_a_layer_sees_the_layers_below_it_and_no_other(self):
        with tempfile.TemporaryDirectory() as tmp:
            jobs = []
            for layer in MAY_USE:
                args, cwd = compile_command_of(layer)
                allowed = closure(layer) | {layer}
                for other, header in PROBE.items():
                    src = os.path.join(tmp, f"{layer}_includes_{other}.cpp")
                    with open(src, "w") as f:
                        f.write(f"#include <netdx/{header}>\n")
                    jobs.append((layer, other, other in allowed, args + ["-fsyntax-only", src], cwd))

            def compile_one(job):
                layer, other, allowed, cmd, cwd = job
                r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=TIMEOUT)
                return layer, other, allowed, r.returncode, r.stdout

            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(compile_one, jobs))
        self.assertEqual(len(results), len(MAY_USE) ** 2)
        for layer, other, allowed, rc, out in results:
            with self.subTest(layer=layer, includes=other):
                if allowed:
                    self.assertEqual(rc, 0, f"{layer}/ cannot include netdx/{PROBE[other]}:\n{out}")
                else:
                    self.assertNotEqual(rc, 0, f"{layer}/ could include netdx/{PROBE[other]}")
                    self.assertIn(f"netdx/{PROBE[other]}", out)
                    self.assertIn("No such file", out)


if __name__ == "__main__":
    unittest.main()
