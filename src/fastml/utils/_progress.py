"""A one-line text progress bar, redrawn in place."""
import sys


def progress_bar(done, total, label, stream=sys.stderr, width=30):
    """Draw ``[###...] done/total label`` over the current line; end the line when done."""
    filled = int(width * done / total)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[:60]:<60}")
    stream.flush()
    if done == total:
        stream.write("\n")
