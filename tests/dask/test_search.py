"""fastml estimators in scikit-learn's searches under joblib's dask backend."""
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_validate

from fastml._backend import effective_n_threads
from fastml.neighbors import KNeighborsClassifier
from fastml.naive_bayes import GaussianNB


class _ThreadProbe(GaussianNB):
    """GaussianNB that records the thread count fastml's cores would take in its task."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.threads_seen_ = effective_n_threads()
        return self


def test_grid_search_under_the_dask_backend_equals_in_process(client):
    X, y = load_iris(return_X_y=True)
    grid = {"n_neighbors": [1, 5, 9], "weights": ["uniform", "distance"]}
    expected = GridSearchCV(KNeighborsClassifier(), grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(KNeighborsClassifier(), grid, cv=3, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  expected.cv_results_["mean_test_score"])
    assert search.best_params_ == expected.best_params_


def test_tasks_are_capped_to_the_workers_threads(client):
    from fastml._backend import available_cpus
    X, y = load_iris(return_X_y=True)
    with joblib.parallel_backend("dask"):
        result = cross_validate(_ThreadProbe(), X, y, cv=4, n_jobs=-1, return_estimator=True)
    share = max(1, min(effective_n_threads(), available_cpus() // 2))
    assert {e.threads_seen_ for e in result["estimator"]} == {share}
