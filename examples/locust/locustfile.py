"""The seeds' load-test scenarios as a Locust file, against soak's example server.

Scenarios (pick with --tags, as the seeds' load guide does):
  health      GET /health
  generation  POST /api/jobs (a job submission)
  polling     GET /api/jobs/{id} (status polling every few seconds)
  upload      POST /api/assets/upload (a 5 MB upload)
  e2e         submit -> poll until done -> download the result

Shapes (the seeds' load profiles; pick one with soak's "shape" / --shape):
  BaselineLoadShape   5 users for 10 minutes
  StressTestShape     2x load: 10 users for 5 minutes
  SpikeTestShape      0 -> 20 users in 1 minute, hold 2 minutes, back to 2
  EnduranceTestShape  5 users for 30 minutes ("detect memory leaks")
SOAK_SHAPE_SCALE (a factor, default 1) shortens or stretches every shape: 0.05 runs the
endurance profile in 90 s, for a quick try.

Run it against the example server under soak (one command, from the repository's top):
  build/cli/soak run --locust examples/locust/locustfile.py --shape EnduranceTestShape \
      --base-url http://127.0.0.1:8089 --ready /health --duration 30m -- \
      build/examples/soak-example-server --port 8089
or with the scenario beside this file:
  build/cli/soak run examples/locust/endurance.json
Plain Locust (without soak) runs it too:
  locust -f examples/locust/locustfile.py --host http://127.0.0.1:8089 --headless \
      --tags health --users 10 --spawn-rate 5 --run-time 2m
"""

import os
import time

from locust import HttpUser, LoadTestShape, between, tag, task

SCALE = float(os.environ.get("SOAK_SHAPE_SCALE", "1"))
UPLOAD = b"x" * (5 * 1024 * 1024)


class ServiceUser(HttpUser):
    """One user of the service: each task is one of the seeds' scenarios."""

    wait_time = between(0.5, 1.5)
    job_ids = []

    @tag("health")
    @task(4)
    def health(self):
        self.client.get("/health", name="GET /health")

    @tag("generation")
    @task(2)
    def submit(self):
        with self.client.post("/api/jobs", json={"duration_ms": 200}, name="POST /api/jobs",
                              catch_response=True) as r:
            if r.status_code == 202 and "id" in r.text:
                ServiceUser.job_ids.append(r.json()["id"])
                del ServiceUser.job_ids[:-100]
                r.success()
            else:
                r.failure(f"submit answered {r.status_code}")

    @tag("polling")
    @task(2)
    def poll(self):
        if not ServiceUser.job_ids:
            self.submit()
            return
        self.client.get(f"/api/jobs/{ServiceUser.job_ids[-1]}", name="GET /api/jobs/{id}")

    @tag("upload")
    @task(1)
    def upload(self):
        self.client.post("/api/assets/upload", data=UPLOAD, name="POST /api/assets/upload")

    @tag("e2e")
    @task(1)
    def workflow(self):
        r = self.client.post("/api/jobs", json={"duration_ms": 200}, name="POST /api/jobs")
        if r.status_code != 202:
            return
        job = r.json()["id"]
        deadline = time.time() + 30
        while time.time() < deadline:
            state = self.client.get(f"/api/jobs/{job}", name="GET /api/jobs/{id}").json()
            if state.get("status") in ("done", "failed"):
                break
            time.sleep(0.2)
        self.client.get(f"/api/jobs/{job}/result", name="GET /api/jobs/{id}/result")


class _Stages:
    """Stages of (seconds, users, spawn rate), scaled by SOAK_SHAPE_SCALE; None at the end.
    Not a LoadTestShape itself: Locust 2.12 would take it for the file's shape."""

    stages = []

    def tick(self):
        run_time = self.get_run_time()
        end = 0.0
        for seconds, users, rate in self.stages:
            end += seconds * SCALE
            if run_time < end:
                return users, rate
        return None


class BaselineLoadShape(_Stages, LoadTestShape):
    stages = [(600, 5, 1)]


class StressTestShape(_Stages, LoadTestShape):
    stages = [(300, 10, 2)]


class SpikeTestShape(_Stages, LoadTestShape):
    stages = [(60, 2, 1), (60, 20, 20), (120, 20, 20), (60, 2, 20)]


class EnduranceTestShape(_Stages, LoadTestShape):
    stages = [(1800, 5, 1)]
