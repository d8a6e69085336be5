"""The recipes in deploy/, run for real where this machine can: the Ansible playbook against
three network namespaces as hosts (each its own sshd and host name, reached over a bridge),
flooding a netdx-echo in a fourth; the server's own count is the truth. The Slurm and
Kubernetes recipes are checked offline (no slurmctld, no cluster here)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from netdx_test import BIN, SOURCE, require_program, require_root

DEPLOY = os.path.join(SOURCE, "deploy")
AGENTS = 3
SUBNET = "10.213.0"


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=30, **kw)


class AnsibleSerial(unittest.TestCase):
    def setUp(self):
        require_root()
        require_program("ansible-playbook")
        if not os.path.exists("/usr/sbin/sshd"):
            raise unittest.SkipTest("openssh-server is not installed")
        self.tag = f"{os.getpid() % 10000}"
        self.dir = tempfile.mkdtemp(prefix="netdx-ansible-")
        os.chmod(self.dir, 0o700)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.procs = []
        self.addCleanup(self.stop_all)
        # The bridge the hosts hang off; the controller is this namespace, at .1.
        self.bridge = f"ndxbr{self.tag}"
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.addCleanup(subprocess.run, ["ip", "link", "del", self.bridge], capture_output=True)
        sh("ip", "addr", "add", f"{SUBNET}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        self.hosts = [self.namespace(f"h{i}", f"{SUBNET}.{11 + i}") for i in range(AGENTS)]
        self.server_ns = self.namespace("srv", f"{SUBNET}.20")
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory

    def namespace(self, name, address):
        ns = f"ndx{self.tag}{name}"
        sh("ip", "netns", "add", ns)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
        outer = f"ndx{self.tag}{name}o"
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", outer, "master", self.bridge, "up")
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{address}/24", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"]):
            sh("ip", "netns", "exec", ns, *cmd)
        return ns, address

    def start(self, args, **kw):
        p = subprocess.Popen(args, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    def sshd(self, ns, address, name, key):
        host_key = os.path.join(self.dir, f"host-{name}")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key)
        args = ["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-o", f"ListenAddress={address}",
                "-o", f"HostKey={host_key}", "-o", f"AuthorizedKeysFile={key}.pub",
                "-o", f"PidFile={self.dir}/sshd-{name}.pid", "-o", "PermitRootLogin=prohibit-password",
                "-o", "StrictModes=no", "-o", "UsePAM=no", "-o", "MaxStartups=50",
                "-o", "'Subsystem sftp internal-sftp'"]
        # Its own host name (a UTS namespace): the agent's name in its run block.
        self.start(["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
                    f"hostname {name} && exec " + " ".join(args)],
                   stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, f"sshd-{name}.log"), "w"))

    def test_the_playbook_floods_from_three_hosts_and_merges_to_the_servers_count(self):
        n = 3001
        key = os.path.join(self.dir, "id")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        names = [f"agent-{i}" for i in range(AGENTS)]
        for (ns, address), name in zip(self.hosts, names):
            self.sshd(ns, address, name, key)
        ns, address = self.server_ns
        server = self.start(["ip", "netns", "exec", ns, os.path.join(BIN, "netdx-echo"), "--listen",
                             f"{address}:7007", "--tcp-only", "--json", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # sshd listening on every host (bounded).
        for (ns, address), name in zip(self.hosts, names):
            for _ in range(100):
                if f"{address}:22" in subprocess.run(["ip", "netns", "exec", ns, "ss", "-Htln"],
                                                     capture_output=True, text=True).stdout:
                    break
                time.sleep(0.05)
            else:
                self.fail(open(os.path.join(self.dir, f"sshd-{name}.log")).read())
        inventory = os.path.join(self.dir, "inventory")
        with open(inventory, "w") as f:
            f.write("[agents]\n")
            for (_, address), name in zip(self.hosts, names):
                f.write(f"{name} ansible_host={address}\n")
            f.write("[agents:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n"
                    f"ansible_ssh_private_key_file={key}\n"
                    "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n")
        results = os.path.join(self.dir, "results")
        env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
                   # One control socket per run and host: the namespaces' hosts are not one.
                   ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(self.dir, "cp"),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.dir, "tmp"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.dir, "remote-tmp"), ANSIBLE_FORKS="10")
        started = time.time()
        r = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(DEPLOY, "ansible", "flood.yml"),
                            "-e", f"target={SUBNET}.20:7007", "-e", f"connections={n}", "-e", "rate=3000/s",
                            "-e", "hold=1s", "-e", "start_delay=8", "-e", f"netdx_bin_dir={BIN}",
                            "-e", f"results_dir={results}", "-e", json.dumps({"extra_args": "--verify none"}),
                            "-e", f"agent_dir={self.dir}/agent-{{{{ inventory_hostname }}}}"],
                           env=env, capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
        merged = json.load(open(os.path.join(results, "merged.json")))
        os.killpg(server.pid, signal.SIGTERM)
        out, _ = server.communicate(timeout=20)
        served = json.loads(out)["stats"]["connections_total"]
        # The server's own count, the agents' sum, and N agree.
        self.assertEqual(served, n)
        self.assertEqual(merged["result"]["established"], n)
        self.assertEqual(merged["run"]["agents"], AGENTS)
        self.assertEqual(merged["run"]["shards_merged"], {"count": AGENTS, "indices": [0, 1, 2]})
        agents = {a["agent"]: a for a in merged["agents"]}
        self.assertEqual(sorted(agents), names)  # each host's own name, from its run block
        for name in names:
            self.assertLess(agents[name]["start_lateness_ns"], 50_000_000, name)
            self.assertEqual(agents[name]["established"], [1000, 1000, 1001][names.index(name)])
        # The shared instant was ahead of the dispatch: every agent was waiting for it.
        self.assertGreater(merged["run"]["start_at_ns"], int(started * 1e9))
        # One machine with three worker processes runs the same schedule (slot j at j/rate):
        # the merged times to N are its times, to within the handshakes' jitter (and a sanitizer's).
        server = self.start(["ip", "netns", "exec", ns, os.path.join(BIN, "netdx-echo"), "--listen",
                             f"{address}:7008", "--tcp-only", "--json", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        one = subprocess.run(["ip", "netns", "exec", self.hosts[0][0], os.path.join(BIN, "netdx-flood"),
                              f"{address}:7008", "-n", str(n), "--rate", "3000/s", "--hold", "1s",
                              "--processes", "3", "--verify", "none", "--json", "-q"],
                             capture_output=True, text=True, timeout=60)
        single = json.loads(one.stdout)
        self.assertEqual(single["result"]["established"], n)
        for key in ("time_to_50_ns", "time_to_90_ns", "time_to_100_ns"):
            self.assertLess(abs(merged["result"][key] - single["result"][key]), 50_000_000,
                            (key, merged["result"][key], single["result"][key]))


class RecipesOffline(unittest.TestCase):
    def test_the_kubernetes_job_is_indexed_and_gives_each_pod_its_shard(self):
        import yaml  # python3-yaml (ansible-core's dependency)
        text = open(os.path.join(DEPLOY, "kubernetes", "flood-job.yaml")).read()
        env = {"NETDX_RUN_ID": "r1", "NETDX_AGENTS": "3", "NETDX_IMAGE": "netdx:test",
               "NETDX_TARGET": "10.0.0.5:6379", "NETDX_CONNECTIONS": "3000", "NETDX_RATE": "3k/s",
               "NETDX_HOLD": "10s", "NETDX_START_AT": "1796162400"}
        for k, v in env.items():
            text = text.replace("${" + k + "}", v)
        self.assertNotRegex(text, r"\$\{NETDX_")
        job = yaml.safe_load(text)
        self.assertEqual((job["apiVersion"], job["kind"]), ("batch/v1", "Job"))
        spec = job["spec"]
        self.assertEqual(spec["completionMode"], "Indexed")
        self.assertEqual(spec["completions"], 3)
        self.assertEqual(spec["parallelism"], 3)
        self.assertEqual(spec["backoffLimit"], 0)
        pod = spec["template"]["spec"]
        self.assertEqual(pod["restartPolicy"], "Never")
        container = pod["containers"][0]
        command = container["command"]
        self.assertEqual(command[command.index("--shard") + 1], "auto")
        self.assertEqual(command[command.index("--start-at") + 1], "@1796162400")
        count = {e["name"]: e.get("value") for e in container["env"]}["NETDX_SHARD_COUNT"]
        self.assertEqual(count, "3")
        # What each pod's netdx-flood makes of it: JOB_COMPLETION_INDEX is Kubernetes's.
        args = command[1:command.index("--json")]
        for index in range(3):
            r = subprocess.run([os.path.join(BIN, "netdx-flood")] + args + ["--json", "--start-late-max", "0"],
                               env=dict(os.environ, JOB_COMPLETION_INDEX=str(index), NETDX_SHARD_COUNT=count),
                               capture_output=True, text=True, timeout=30)
            # The instant is in the past here: refused, after the shard was read from the env.
            doc = json.loads(r.stdout)
            self.assertEqual(doc["run"]["shard"], {"index": index, "count": 3}, r.stderr)
            self.assertIn("--start-at", doc["error"]["message"])

    def test_the_slurm_and_kubernetes_scripts_parse(self):
        for script in ("slurm/flood.sbatch", "kubernetes/run.sh"):
            r = subprocess.run(["bash", "-n", os.path.join(DEPLOY, script)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        text = open(os.path.join(DEPLOY, "slurm", "flood.sbatch")).read()
        self.assertIn("--shard auto", text)
        # srun gives each task SLURM_PROCID and SLURM_NTASKS; --shard auto reads them.
        r = subprocess.run([os.path.join(BIN, "netdx-flood"), "-n", "10", "--hold", "0", "--shard", "auto",
                            "--json"], env=dict(os.environ, SLURM_PROCID="1", SLURM_NTASKS="3"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(json.loads(r.stdout)["run"]["shard"], {"index": 1, "count": 3})
        self.assertEqual(json.loads(r.stdout)["result"]["established"], 3)


if __name__ == "__main__":
    unittest.main()
