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
DONE = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}


def wait_until(job, statuses, timeout=120):
    """Polls the job's status until it is in statuses; returns the last one."""
    deadline = time.time() + timeout
    status = client.get_job_status(job)
    while status not in statuses and time.time() < deadline:
        time.sleep(0.5)
        status = client.get_job_status(job)
    return status


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
out["status"] = str(wait_until(job, DONE).value)
info = client.get_job_info(job)
out["metadata"] = info.metadata
out["logs"] = client.get_job_logs(job)
out["listed"] = job in [j.submission_id for j in client.list_jobs()]

long_job = client.submit_job(entrypoint="python -c \"import time; time.sleep(600)\"")
wait_until(long_job, DONE | {JobStatus.RUNNING})
out["stop_returned"] = client.stop_job(long_job)
out["long_status"] = str(wait_until(long_job, DONE).value)
out["deleted"] = client.delete_job(long_job)
print(json.dumps(out))
