"""netdx-tour runs each step titled, bounded, and reports them."""
import unittest

from netdx_test import run, run_json


class Tour(unittest.TestCase):
    def test_human_tour_titles_each_step_and_shows_its_output(self):
        r = run(["netdx-tour"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Step 1/", r.stdout)
        self.assertIn("$ netdx doctor", r.stdout)
        self.assertIn("ip_local_port_range", r.stdout)  # the doctor's own output
        self.assertIn("$ netdx probe", r.stdout)
        self.assertIn("round trips (RTT)", r.stdout)  # the probe's own output
        self.assertIn("Tour summary", r.stdout)

    def test_json_tour_embeds_each_step_document(self):
        r, doc = run_json(["netdx-tour"])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(all(step["result"] == "ok" for step in doc["steps"]), doc["steps"])
        self.assertEqual(doc["outputs"][0]["output"]["tool"], "netdx-doctor")
        probes = [o["output"] for o in doc["outputs"] if o["output"]["tool"] == "netdx-probe"]
        self.assertGreaterEqual(len(probes), 3)
        self.assertTrue(all(p["results"][0]["count"] > 0 for p in probes))
        floods = [o["output"] for o in doc["outputs"] if o["output"]["tool"] == "netdx-flood"]
        self.assertEqual(len(floods), 1)
        self.assertEqual(floods[0]["result"]["established"], 10000)

    def test_only_filters_steps_and_rejects_unknown(self):
        r, doc = run_json(["netdx-tour", "--only", "doctor"])
        self.assertEqual(len(doc["steps"]), 1)
        r = run(["netdx-tour", "--only", "nosuch"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--only", r.stderr)
