"""What a notebook does under `raygate exec -- jupyter lab`: it builds Ray's
JobSubmissionClient from RAY_JOB_HEADERS, runs a job, then gets a fresh
token with `raygate token` (as the docs show for long sessions) and reads
the job back with a new client. Prints what it saw as one JSON object.
Usage: notebook.py ADDRESS"""
import json
import os
import subprocess
import sys
import time

from ray.job_submission import JobStatus, JobSubmissionClient

address = sys.argv[1]
client = JobSubmissionClient(address, headers=json.loads(os.environ["RAY_JOB_HEADERS"]))
job = client.submit_job(entrypoint="python -c \"print('hello from a notebook')\"")
deadline = time.time() + 120
status = client.get_job_status(job)
while status not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED} and time.time() < deadline:
    time.sleep(0.5)
    status = client.get_job_status(job)


def raygate_headers():
    """A current token from raygate login's cache, renewed when needed."""
    token = subprocess.run(["raygate", "token"], check=True, capture_output=True, text=True).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


fresh = JobSubmissionClient(address, headers=raygate_headers())
info = fresh.get_job_info(job)
print(json.dumps({"job": job, "status": str(status.value), "owner": info.metadata.get("raygate.owner"),
                  "logs": fresh.get_job_logs(job)}))
