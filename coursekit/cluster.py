"""Class grading on a Dask cluster: ``python -m coursekit grade <chapter>
--scheduler tcp://HOST:PORT``.

Each learner is one task. What a worker needs travels with the tasks,
so the worker machines share no folder with the course: the course's
``nbgrader_config.py``, its source folder (every chapter's: the withheld
dlcore copy needs the later chapters' items) and the gradebook's
definitions (:func:`coursekit.grade.snapshot`) go to each worker once
(``scatter``, :func:`course_bundle`); a learner's submission (its
``.ipynb`` files and ``timestamp.txt``) goes with its task. On the
worker, :func:`grade_remote` grades the learner exactly as local grading
does, by a grading server of that worker (:mod:`coursekit.gradeserver`,
every kernel in the sandbox), and the grading process writes the
learner's results into the PostgreSQL gradebook in one transaction. The
task returns the log, the autograded notebook and the policy report,
which this process writes into the course folder, as local grading does.

A worker lost mid-run loses no learner: Dask runs its tasks again on
another worker. The lost worker's grading servers see their stdin close
and kill the learner they were grading, whose gradebook transaction is
then rolled back, so a learner is never half-written; rows are found by
learner and chapter and updated, never added twice
(:func:`coursekit.grade.merge_learner`).
"""

import hashlib
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

# the worker's side: a course bundle unpacked once per process, and one
# grading server per worker thread
_COURSES = {}
_LOCK = threading.Lock()
_SERVERS = threading.local()


def course_bundle(course, names, template):
    """What every worker needs of the course, as data: ``{"token",
    "names", "files": {relative path: bytes}}``."""
    files = {"nbgrader_config.py":
             Path(names["config"]).read_bytes(),
             "definitions.db": Path(template).read_bytes()}
    src = Path(course, names["source"])
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(course)
        if f.is_file() and not any(p in (".ipynb_checkpoints",
                                          "__pycache__")
                                   for p in rel.parts):
            files[str(rel)] = f.read_bytes()
    digest = hashlib.sha256()
    for rel, data in sorted(files.items()):
        digest.update(rel.encode() + b"\0" + data)
    plain = {k: v for k, v in names.items() if k != "config"}
    return {"token": digest.hexdigest(), "names": plain, "files": files}


def _unpacked(bundle):
    """``(course folder, names)`` of ``bundle`` on this worker."""
    with _LOCK:
        found = _COURSES.get(bundle["token"])
        if found is None:
            root = Path(tempfile.mkdtemp(prefix="coursekit-course-"))
            for rel, data in bundle["files"].items():
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            names = dict(bundle["names"],
                         config=str(root / "nbgrader_config.py"))
            found = _COURSES[bundle["token"]] = (root, names)
    return found


def _server():
    from coursekit.gradeserver import GradingServer

    srv = getattr(_SERVERS, "server", None)
    if srv is None:
        srv = _SERVERS.server = GradingServer()
    return srv


def grade_remote(bundle, chapter, student, files, extension, sandbox,
                 timeout, db_url):
    """Grade one learner on this worker (a Dask task); the results:
    ``rc``, ``log``, ``seconds``, ``files`` (:func:`coursekit.grade.
    outputs`), ``phases`` and ``worker``."""
    from coursekit import grade as g

    course, names = _unpacked(bundle)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        db = Path(tmp, student, "grades.db")
        root = g._temp_course(tmp, course, names, chapter, student,
                              f"sqlite:///{db}", sandbox, files)
        private = g.private_gradebook(course / "definitions.db", db,
                                      chapter, student, extension)
        merge = {"dst": db_url, "course_id": names["course_id"]}
        job = g.job_for(root, chapter, student, private, timeout, merge)
        t = time.perf_counter()
        reply = _server().grade(job)
        secs = time.perf_counter() - t
        return {"rc": reply["rc"],
                "log": g.read_log(job["log"], reply.get("note", "")),
                "seconds": secs,
                "files": g.outputs(root, names, chapter, student),
                "phases": g.read_phases(job["phases"]),
                "worker": f"{os.uname().nodename}:{os.getpid()}"}


def grade_on_cluster(scheduler, course, names, chapter, students, db_url,
                     template, granted, sandbox, timeout, done):
    """Send every learner to the cluster at ``scheduler``; ``done(...)``
    for each as its results come back (see :func:`coursekit.grade.grade`)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SystemExit("grading on a cluster needs Dask's distributed: "
                         "pip install 'deep-learning-by-hand[cluster]'")
    from coursekit.grade import submission

    run = uuid.uuid4().hex[:8]
    with Client(scheduler, set_as_default=False, timeout=60) as client:
        # a list: a dict would be scattered key by key
        [bundle] = client.scatter([course_bundle(course, names, template)],
                                  broadcast=True)
        futures = {}
        for student in students:
            fut = client.submit(
                grade_remote, bundle, chapter, student,
                submission(course, names, chapter, student),
                granted.get(student), sandbox, timeout, db_url,
                key=f"coursekit-{chapter}-{student}-{run}", pure=False)
            futures[fut] = student
        for fut in as_completed(futures, loop=client.loop):
            student = futures[fut]
            try:
                r = fut.result()
            except Exception as err:  # lost too often, or broken: go on
                done(student, -1, f"grading failed on the cluster: "
                     f"{type(err).__name__}: {err}\n", 0.0, {}, {}, False)
                continue
            done(student, r["rc"], f"[graded on {r['worker']}]\n"
                 + r["log"], r["seconds"], r["files"], r["phases"])

