# Many short calls on three threads, with pauses: fast mode hands over full batches, batches
# that grew old, and batches the watcher flushes while the thread sleeps.
import threading
import time


def leaf(i):
    return i


def work(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def worker():
    work(3000)
    time.sleep(0.25)
    work(3000)


threads = [threading.Thread(target=worker) for _ in range(2)]
for t in threads:
    t.start()
worker()
for t in threads:
    t.join()
print("done")
