"""Drives Ray's own JobSubmissionClient through raygate and prints what it
saw as one JSON object. Usage: sdk.py ADDRESS BEARER_TOKEN"""
import asyncio
import json
import sys
import time

from ray.job_submission import JobStatus, JobSubmissionClient

address, token = sys.argv[1], sys.argv[2]
client = JobSubmissionClient(address, headers={"Authorization": f"Bearer {token}"})
out = {}

job = client.submit_job(
    entrypoint="python -c \"import time\nfor i in range(3):\n    print('tick', i, flush=True); time.sleep(1)\"",
    metadata={"purpose": "sdk-test", "raygate.owner": "someone-else"},
)
out["submitted"] = job


async def tail():
    lines = []
    async for chunk in client.tail_job_logs(job):
        lines.append(chunk)
    return "".join(lines)


out["tailed"] = asyncio.run(tail())
deadline = time.time() + 120
while time.time() < deadline:
    status = client.get_job_status(job)
    if status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
        break
    time.sleep(0.5)
out["status"] = str(status.value)
info = client.get_job_info(job)
out["metadata"] = info.metadata
out["logs"] = client.get_job_logs(job)
out["listed"] = job in [j.submission_id for j in client.list_jobs()]

long_job = client.submit_job(entrypoint="python -c \"import time; time.sleep(600)\"")
deadline = time.time() + 120
while client.get_job_status(long_job) == JobStatus.PENDING and time.time() < deadline:
    time.sleep(0.5)
out["stop_returned"] = client.stop_job(long_job)
deadline = time.time() + 120
while time.time() < deadline:
    status = client.get_job_status(long_job)
    if status in {JobStatus.STOPPED, JobStatus.FAILED, JobStatus.SUCCEEDED}:
        break
    time.sleep(0.5)
out["long_status"] = str(status.value)
out["deleted"] = client.delete_job(long_job)
print(json.dumps(out))
