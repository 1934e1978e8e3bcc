"""Python-level work shared between threads, for loops whose items spend their time in NumPy
calls that release the GIL (sorts, array operations)."""
import threading


def for_each_in_threads(fn, count, n_threads):
    """fn(i) for every i in range(count), on the calling thread and up to n_threads - 1 helper
    threads, each i handed out once. A helper that cannot start (the address space used up)
    leaves its share to the others; the first error of any thread is raised here, once every
    thread has stopped, so no item is silently left undone."""
    items = iter(range(count))
    lock = threading.Lock()
    errors = []

    def work():
        try:
            while True:
                with lock:
                    i = next(items, None)
                if i is None:
                    return
                fn(i)
        except BaseException as error:  # raised below, in the caller's thread
            errors.append(error)

    helpers = []
    for _ in range(min(n_threads, count) - 1):
        helper = threading.Thread(target=work, daemon=True)
        try:
            helper.start()
        except RuntimeError:  # "can't start new thread"
            break
        helpers.append(helper)
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
