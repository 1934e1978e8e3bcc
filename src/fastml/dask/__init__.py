"""fastml estimators over Dask collections and clusters (``pip install "fastml[dask]"``).

- ParallelPostFit: any fitted estimator's predict, predict_proba, decision_function, transform,
  score and kneighbors over dask arrays and dataframes, partition by partition.
- KMeans: k-means|| seeding and Lloyd's iterations, per-partition sums on the compiled core.
- NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor: the training set partitioned.
- RandomForestClassifier, RandomForestRegressor: trees grown on the workers, gathered.
- HistGradientBoostingClassifier, HistGradientBoostingRegressor: the rows partitioned, per-partition
  histograms on the compiled core summed on the client, the trees grown there.
- MatrixFactorization: ALS with the ratings partitioned by user and by item.

Inside a Dask worker every fastml core caps its threads to the task's share of the worker's
cores (see fastml._backend.effective_n_threads), so searches under
``joblib.parallel_backend("dask")`` do not oversubscribe either. Dask does all the moving: the
default scheduler runs the tasks (a distributed Client when one is active).
"""
from ._boosting import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from ._forest import RandomForestClassifier, RandomForestRegressor
from ._kmeans import KMeans
from ._mf import MatrixFactorization
from ._neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from ._postfit import ParallelPostFit

__all__ = ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "KMeans", "KNeighborsClassifier", "KNeighborsRegressor", "MatrixFactorization",
           "NearestNeighbors",
           "ParallelPostFit", "RandomForestClassifier", "RandomForestRegressor"]
