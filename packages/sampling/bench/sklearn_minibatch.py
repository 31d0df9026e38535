"""scikit-learn's MiniBatchKMeans on the benchmark's .npy data, for bench/sklearn.ts; prints one JSON line.

Usage: python3 sklearn_minibatch.py DATA.npy K BATCH EPOCHS THREADS SEED
Fixed step count: tol=0 and max_no_improvement=None, so it runs (EPOCHS · n) // BATCH steps. The phases are timed as in
kmeansChild.ts: seeding (up to the end of the first step), steps 2…, final labels of all rows, by wrapping
sklearn.cluster._kmeans._mini_batch_step (a module function that fit() looks up at each call).
"""
import json
import resource
import sys
import time

import numpy as np
import sklearn.cluster._kmeans as kmeans_module
from sklearn.cluster import MiniBatchKMeans
from threadpoolctl import threadpool_info, threadpool_limits

path, k, batch, epochs, threads, seed = sys.argv[1], *map(int, sys.argv[2:7])
X = np.load(path)
step_ends = []
_step = kmeans_module._mini_batch_step


def timed_step(*args, **kwargs):
    result = _step(*args, **kwargs)
    step_ends.append(time.perf_counter())
    return result


kmeans_module._mini_batch_step = timed_step
with threadpool_limits(limits=threads):
    km = MiniBatchKMeans(
        n_clusters=k,
        init="k-means++",
        n_init=1,
        batch_size=batch,
        max_iter=epochs,
        tol=0.0,
        max_no_improvement=None,
        random_state=seed,
        compute_labels=True,
    )
    t0 = time.perf_counter()
    km.fit(X)
    end = time.perf_counter()
    seconds = end - t0
    pools = [
        {key: p.get(key) for key in ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")}
        for p in threadpool_info()
    ]
# Spherical inertia of the result (Σ 1 − cos to the normalized centroid) for comparison with sphericalKMeans.
C = km.cluster_centers_ / np.maximum(np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12)
cos = np.einsum("ij,ij->i", X, C[km.labels_])
print(
    json.dumps(
        {
            "seconds": seconds,
            "steps": int(km.n_steps_),
            "seedingSeconds": step_ends[0] - t0,
            "stepsSeconds": step_ends[-1] - step_ends[0],
            "finalPassSeconds": end - step_ends[-1],
            "stepMs": [(b - a) * 1000 for a, b in zip(step_ends, step_ends[1:])],
            "sphericalInertia": float(np.sum(1.0 - cos)),
            "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sklearn": __import__("sklearn").__version__,
            "numpy": np.__version__,
            "threadpools": pools,
        }
    )
)
