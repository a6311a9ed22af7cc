"""Several processes sharing one cache folder (dashboard replicas, parallel kd-train runs): an identical run is
trained once, the others wait for it and load it; nothing is written twice or half."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from kd_core import ResultCache

SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from kd_core import ResultCache, RunConfig, TeacherCache, run
folder = sys.argv[1]
result = run(RunConfig(teacher_epochs=4, epochs=3, seed=21, device="cpu"), cache=TeacherCache(folder),
             results=ResultCache(folder))
print(json.dumps({"from_cache": result.from_results_cache, "teacher_from_cache": result.teacher_from_cache,
                  "student": result.student.accuracy, "baseline": result.baseline.accuracy}))
"""


def test_two_processes_asking_for_the_same_run_train_it_once(tmp_path):
    started = [
        subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [json.loads(process.communicate(timeout=300)[0]) for process in started]
    assert sorted(o["from_cache"] for o in outputs) == [False, True]  # one trained, the other loaded its result
    assert outputs[0]["student"] == outputs[1]["student"] and outputs[0]["baseline"] == outputs[1]["baseline"]
    assert len(list(tmp_path.glob("result-*.pt"))) == 1 and len(list(tmp_path.glob("teacher-*.pt"))) == 1
    assert not list(tmp_path.glob("*.tmp"))  # no half-written file left behind


def test_a_claim_waits_for_the_holder_and_gives_up_when_stopped(tmp_path):
    import threading

    cache = ResultCache(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from kd_core import ResultCache\n"
                "with ResultCache(sys.argv[1]).claim('k') as ok:\n    print(ok, flush=True); time.sleep(3)\n"
            ),
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "True"
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with cache.claim("k", stop) as claimed:
        assert claimed is False  # stopped while the other process held it
    started = time.monotonic()
    with cache.claim("k") as claimed:  # waits until the holder lets go
        assert claimed is True and time.monotonic() - started > 0.5
    holder.wait(timeout=30)
